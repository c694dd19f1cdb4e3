package frrtest

import (
	"crypto/rand"
	"crypto/sha512"
)

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sha512Crypt is glibc's "$6$" password hash (SHA-crypt, 5000 rounds) for
// the shadow file the harness gives sshd; the Go standard library and
// x/crypto have no crypt(3).
func sha512Crypt(password, salt string) string {
	if len(salt) > 16 {
		salt = salt[:16]
	}
	p, s := []byte(password), []byte(salt)

	b := sha512.New()
	b.Write(p)
	b.Write(s)
	b.Write(p)
	bsum := b.Sum(nil)

	a := sha512.New()
	a.Write(p)
	a.Write(s)
	n := len(p)
	for ; n > 64; n -= 64 {
		a.Write(bsum)
	}
	a.Write(bsum[:n])
	for n = len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(bsum)
		} else {
			a.Write(p)
		}
	}
	c := a.Sum(nil)

	dp := sha512.New()
	for range len(p) {
		dp.Write(p)
	}
	pseq := repeatTo(dp.Sum(nil), len(p))

	ds := sha512.New()
	for range 16 + int(c[0]) {
		ds.Write(s)
	}
	sseq := repeatTo(ds.Sum(nil), len(s))

	for i := range 5000 {
		h := sha512.New()
		if i&1 != 0 {
			h.Write(pseq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sseq)
		}
		if i%7 != 0 {
			h.Write(pseq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pseq)
		}
		c = h.Sum(nil)
	}

	out := []byte("$6$" + salt + "$")
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for range n {
			out = append(out, cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	// Bytes are taken in triples (i, i+21, i+42), rotated by i%3.
	for i := range 21 {
		t := [3]int{i, i + 21, i + 42}
		r := i % 3
		enc(c[t[r]], c[t[(r+1)%3]], c[t[(r+2)%3]], 4)
	}
	enc(0, 0, c[63], 2)
	return string(out)
}

func repeatTo(src []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		k := min(n-len(out), len(src))
		out = append(out, src[:k]...)
	}
	return out
}

// randomString returns n characters from the crypt alphabet.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = cryptAlphabet[int(b[i])%len(cryptAlphabet)]
	}
	return string(b)
}
