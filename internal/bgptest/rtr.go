package bgptest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// VRP is one Validated ROA Payload: routes inside Prefix up to MaxLen bits
// may be originated by ASN.
type VRP struct {
	Prefix netip.Prefix
	MaxLen int
	ASN    uint32
}

// RTR PDU types (RFC 6810 / RFC 8210 §5).
const (
	rtrSerialNotify  = 0
	rtrSerialQuery   = 1
	rtrResetQuery    = 2
	rtrCacheResponse = 3
	rtrIPv4Prefix    = 4
	rtrIPv6Prefix    = 6
	rtrEndOfData     = 7
	rtrCacheReset    = 8
	rtrErrorReport   = 10
)

// RTR error codes (RFC 8210 §12).
const (
	rtrErrInvalidRequest     = 2
	rtrErrUnsupportedVersion = 4
	rtrErrUnsupportedPDU     = 5
)

// RTRServer is a minimal RPKI-to-Router cache (RFC 6810 version 0 and
// RFC 8210 version 1) serving a fixed VRP list: it answers Reset and Serial
// Queries with a full snapshot (Cache Response, one Prefix PDU per VRP, End
// of Data) and sends Serial Notify when SetVRPs changes the list. It keeps
// no history, so a Serial Query for an old serial gets a Cache Reset. That
// is all GoBGP's RTR client needs; stayrtr is not in go.mod.
type RTRServer struct {
	ln      net.Listener
	session uint16

	mu     sync.Mutex
	vrps   []VRP
	serial uint32
	conns  map[*rtrConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type rtrConn struct {
	net.Conn
	wmu     sync.Mutex // serialises writes; guards version for SetVRPs
	version uint8
}

// NewRTRServer listens on addr (e.g. "127.0.0.1:0") and serves vrps.
func NewRTRServer(addr string, vrps []VRP) (*RTRServer, error) {
	if err := validateVRPs(vrps); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &RTRServer{ln: ln, session: 0x5050, serial: 1, vrps: append([]VRP(nil), vrps...), conns: map[*rtrConn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// StartRTR starts an RTR server on a free 127.0.0.1 port for a test and
// closes it in t.Cleanup.
func StartRTR(t testing.TB, vrps []VRP) *RTRServer {
	t.Helper()
	s, err := NewRTRServer("127.0.0.1:0", vrps)
	if err != nil {
		t.Fatalf("start RTR server: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func validateVRPs(vrps []VRP) error {
	for _, v := range vrps {
		if !v.Prefix.IsValid() || v.Prefix != v.Prefix.Masked() {
			return fmt.Errorf("VRP prefix %s is not a network address", v.Prefix)
		}
		if v.MaxLen < v.Prefix.Bits() || v.MaxLen > v.Prefix.Addr().BitLen() {
			return fmt.Errorf("VRP %s max length %d out of range", v.Prefix, v.MaxLen)
		}
	}
	return nil
}

// Addr is the address the server listens on.
func (s *RTRServer) Addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Serial is the current serial number.
func (s *RTRServer) Serial() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serial
}

// SetVRPs replaces the VRP list, bumps the serial and notifies connected
// routers (they then ask with a Serial Query and get a Cache Reset).
func (s *RTRServer) SetVRPs(vrps []VRP) error {
	if err := validateVRPs(vrps); err != nil {
		return err
	}
	s.mu.Lock()
	s.vrps = append([]VRP(nil), vrps...)
	s.serial++
	serial := s.serial
	conns := make([]*rtrConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.wmu.Lock()
		c.Conn.Write(pdu(c.version, rtrSerialNotify, s.session, be32(serial))) //nolint:errcheck
		c.wmu.Unlock()
	}
	return nil
}

// Close stops listening, closes every connection and waits for them.
func (s *RTRServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *RTRServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &rtrConn{Conn: nc}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *RTRServer) serve(c *rtrConn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		version, typ := hdr[0], hdr[1]
		length := binary.BigEndian.Uint32(hdr[4:8])
		if length < 8 || length > 1<<16 {
			c.write(errorReport(version, rtrErrInvalidRequest, hdr, "bad PDU length"))
			return
		}
		body := make([]byte, length-8)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if version > 1 {
			// Answer in the highest version we speak so the router can
			// downgrade (RFC 8210 §7).
			c.write(errorReport(1, rtrErrUnsupportedVersion, append(hdr, body...), "version 0 and 1 only"))
			return
		}
		c.wmu.Lock() // SetVRPs reads it to notify in the router's version
		c.version = version
		c.wmu.Unlock()
		switch typ {
		case rtrResetQuery:
			s.sendSnapshot(c)
		case rtrSerialQuery:
			if len(body) < 4 {
				c.write(errorReport(version, rtrErrInvalidRequest, append(hdr, body...), "short Serial Query"))
				return
			}
			s.mu.Lock()
			current := s.serial
			s.mu.Unlock()
			if binary.BigEndian.Uint16(hdr[2:4]) == s.session && binary.BigEndian.Uint32(body[:4]) == current {
				s.sendSnapshotOf(c, nil, current) // nothing changed: empty delta
			} else {
				c.write(pdu(version, rtrCacheReset, 0, nil))
			}
		case rtrErrorReport:
			return
		default:
			c.write(errorReport(version, rtrErrUnsupportedPDU, append(hdr, body...), "unsupported PDU type"))
			return
		}
	}
}

func (s *RTRServer) sendSnapshot(c *rtrConn) {
	s.mu.Lock()
	vrps, serial := s.vrps, s.serial
	s.mu.Unlock()
	s.sendSnapshotOf(c, vrps, serial)
}

// sendSnapshotOf writes Cache Response, the announcements and End of Data
// as one write, so a notify cannot interleave.
func (s *RTRServer) sendSnapshotOf(c *rtrConn, vrps []VRP, serial uint32) {
	out := pdu(c.version, rtrCacheResponse, s.session, nil)
	for _, v := range vrps {
		a := v.Prefix.Addr()
		body := []byte{1 /* announce */, byte(v.Prefix.Bits()), byte(v.MaxLen), 0}
		body = append(body, a.AsSlice()...)
		body = append(body, be32(v.ASN)...)
		typ := byte(rtrIPv4Prefix)
		if a.Is6() {
			typ = rtrIPv6Prefix
		}
		out = append(out, pdu(c.version, typ, 0, body)...)
	}
	eod := be32(serial)
	if c.version == 1 {
		// Refresh, Retry and Expire intervals (RFC 8210 §6, defaults).
		eod = append(eod, be32(3600)...)
		eod = append(eod, be32(600)...)
		eod = append(eod, be32(7200)...)
	}
	out = append(out, pdu(c.version, rtrEndOfData, s.session, eod)...)
	c.write(out)
}

func (c *rtrConn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.Conn.Write(b) //nolint:errcheck // a broken connection ends in the read loop
}

// pdu builds one PDU: version, type, the 16-bit session/zero/error field,
// length, body.
func pdu(version, typ byte, field uint16, body []byte) []byte {
	b := make([]byte, 8, 8+len(body))
	b[0], b[1] = version, typ
	binary.BigEndian.PutUint16(b[2:4], field)
	binary.BigEndian.PutUint32(b[4:8], uint32(8+len(body)))
	return append(b, body...)
}

func errorReport(version byte, code uint16, bad []byte, text string) []byte {
	body := be32(uint32(len(bad)))
	body = append(body, bad...)
	body = append(body, be32(uint32(len(text)))...)
	body = append(body, text...)
	return pdu(version, rtrErrorReport, code, body)
}

func be32(v uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, v)
}
