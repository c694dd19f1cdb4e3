package irr

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// IRRd answers (https://irrd.readthedocs.io, "whois queries"):
//
//	A<n>\n<n bytes of data, the last one a newline>C\n   success with data
//	C\n                                                   success, nothing to say
//	D\n                                                   key not found
//	E\n                                                   multiple copies of a key
//	F <message>\n                                         error
type answer struct {
	code byte   // 'A', 'C', 'D', 'E' or 'F'
	data []byte // for 'A': the data without its final newline; valid until the next read
	msg  string // for 'F'
}

// ErrProtocol marks an answer that does not follow the IRRd protocol.
var ErrProtocol = errors.New("IRRd protocol violation")

// conn is one IRRd connection in multiple-command mode.
type conn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	buf     []byte // reused for answers that do not fit the reader's buffer
	sent    int
}

func newConn(nc net.Conn, timeout time.Duration) *conn {
	return &conn{
		nc:      nc,
		r:       bufio.NewReaderSize(nc, 256<<10),
		w:       bufio.NewWriterSize(nc, 64<<10),
		timeout: timeout,
	}
}

// send queues one command; flush pushes queued commands to the server.
func (c *conn) send(cmd string) error {
	c.sent++
	if _, err := c.w.WriteString(cmd); err != nil {
		return err
	}
	return c.w.WriteByte('\n')
}

func (c *conn) flush() error {
	if c.timeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	return c.w.Flush()
}

// read reads the next answer. The timeout runs from the moment we start
// waiting for this answer, so a long pipelined run is fine as long as the
// server keeps answering.
func (c *conn) read() (answer, error) {
	if c.timeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	}
	line, err := c.line()
	if err != nil {
		return answer{}, err
	}
	if len(line) == 0 {
		return answer{}, fmt.Errorf("%w: empty answer line", ErrProtocol)
	}
	switch line[0] {
	case 'A':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < 0 || n > 1<<30 {
			return answer{}, fmt.Errorf("%w: bad length in %q", ErrProtocol, truncate(line))
		}
		data, err := c.take(n)
		if err != nil {
			return answer{}, err
		}
		end, err := c.line()
		if err != nil {
			return answer{}, err
		}
		if !bytes.Equal(end, []byte("C")) {
			return answer{}, fmt.Errorf("%w: data not followed by C but %q", ErrProtocol, truncate(end))
		}
		return answer{code: 'A', data: bytes.TrimRight(data, "\n")}, nil
	case 'C', 'D', 'E':
		if len(line) != 1 {
			return answer{}, fmt.Errorf("%w: unexpected %q", ErrProtocol, truncate(line))
		}
		return answer{code: line[0]}, nil
	case 'F':
		return answer{code: 'F', msg: string(bytes.TrimSpace(line[1:]))}, nil
	}
	return answer{}, fmt.Errorf("%w: unexpected %q", ErrProtocol, truncate(line))
}

// line reads one line without its end of line.
func (c *conn) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: answer line too long", ErrProtocol)
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// take reads the next n bytes into a buffer reused across answers (the data
// cannot stay in the reader's buffer: reading the closing "C" may refill it).
func (c *conn) take(n int) ([]byte, error) {
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	b := c.buf[:n]
	for off := 0; off < n; {
		if off > 0 && c.timeout > 0 {
			// A big answer takes a while; the deadline moves while data flows.
			c.nc.SetReadDeadline(time.Now().Add(c.timeout))
		}
		m, err := c.r.Read(b[off:])
		off += m
		if err != nil && off < n {
			return nil, unexpectedEOF(err)
		}
	}
	return b, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// fields calls f for each space- or newline-separated token of data.
func fields(data []byte, f func([]byte)) {
	start := -1
	for i, c := range data {
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			if start >= 0 {
				f(data[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		f(data[start:])
	}
}
