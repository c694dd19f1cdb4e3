package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"golang.org/x/text/unicode/norm"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// routerSafe is the API's one definition of text a router can take; a
// generated description keeps to it so the file passes admission.
var routerSafe = regexp.MustCompile(peeringv1.RouterSafeTextPattern)

// safeDescription turns a PeeringDB name into a neighbor description:
// accents are dropped (Telefónica → Telefonica), anything that is not
// router-safe (peeringv1.RouterSafeTextPattern) goes, runs of spaces become
// one, and the result is cut to the CRD's 200 characters.
func safeDescription(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r): // a combining accent
			continue
		case r == ' ' || unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case !routerSafe.MatchString(string(r)):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > 200 {
		out = strings.TrimRight(out[:200], " ")
	}
	return out
}

// printable keeps text from PeeringDB or a status safe for one line of a
// terminal or a YAML comment: control characters (a newline would end the
// comment and start YAML) become spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to n runes with an ellipsis, for table columns.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// parseASN reads "13335" or "AS13335" and refuses what cannot be a peer.
func parseASN(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && strings.EqualFold(t[:2], "AS") {
		t = t[2:]
	}
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an AS number (1..4294967295)", s)
	}
	if err := checkASN(int64(n)); err != nil {
		return 0, err
	}
	return uint32(n), nil
}

// checkASN applies the API server's rule for spec.peerASN.
func checkASN(n int64) error {
	switch {
	case n < 1 || n > 4294967295:
		return fmt.Errorf("AS%d is out of range: an AS number is 1..4294967295", n)
	case n == 23456:
		return fmt.Errorf("AS23456 is AS_TRANS (RFC 6793), a placeholder for old speakers, not a network")
	}
	return nil
}

// opt prints an optional count, "-" when unknown.
func opt(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

// speed prints a port speed given in Mbit/s as 10G, 100M, 1.6T.
func speed(mbps int) string {
	switch {
	case mbps <= 0:
		return "unknown speed"
	case mbps >= 1000000 && mbps%100000 == 0:
		return strconv.FormatFloat(float64(mbps)/1e6, 'f', -1, 64) + "T"
	case mbps >= 1000 && mbps%100 == 0:
		return strconv.FormatFloat(float64(mbps)/1e3, 'f', -1, 64) + "G"
	}
	return strconv.Itoa(mbps) + "M"
}

// bytesHuman prints a byte count with decimal units (traffic is counted
// in powers of ten).
func bytesHuman(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// percent of part in whole, one decimal; "-" when whole is 0.
func percent(part, whole float64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*part/whole, 'f', 1, 64) + "%"
}

// table writes aligned columns as kubectl get does.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 8, 3, ' ', 0)
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table without the padding tabwriter leaves before an
// empty last column.
func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(t.buf.String(), "\n") {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(t.w, strings.TrimRight(l, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}
