package random

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
)

// The character classes, as in the real provider (its default special set included).
const (
	lowerChars          = "abcdefghijklmnopqrstuvwxyz"
	upperChars          = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars        = "0123456789"
	defaultSpecialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// params are the generation inputs shared by RandomPassword and RandomString.
type params struct {
	length                                     int
	upper, lower, numeric, special             bool
	minUpper, minLower, minNumeric, minSpecial int
	overrideSpecial                            string // "" means the default special set, as in the real provider
}

// generate returns a random string: first the minimum count of each class, then characters drawn from all
// enabled classes, then a shuffle so the guaranteed ones are not at the front. Like the real provider, a class's
// minimum is honoured even when the class is otherwise disabled.
func generate(p params) (string, error) {
	special := defaultSpecialChars
	if p.overrideSpecial != "" {
		special = p.overrideSpecial
	}
	if p.minUpper+p.minLower+p.minNumeric+p.minSpecial > p.length {
		return "", fmt.Errorf("length (%d) is less than the sum of the minimums (%d)", p.length,
			p.minUpper+p.minLower+p.minNumeric+p.minSpecial)
	}

	var pool string
	for _, c := range []struct {
		on    bool
		chars string
	}{{p.upper, upperChars}, {p.lower, lowerChars}, {p.numeric, numericChars}, {p.special, special}} {
		if c.on {
			pool += c.chars
		}
	}

	out := make([]byte, 0, p.length)
	for _, m := range []struct {
		n     int
		chars string
	}{{p.minUpper, upperChars}, {p.minLower, lowerChars}, {p.minNumeric, numericChars}, {p.minSpecial, special}} {
		for range m.n {
			c, err := pick(m.chars)
			if err != nil {
				return "", err
			}
			out = append(out, c)
		}
	}
	if len(out) < p.length && pool == "" {
		return "", errors.New("no character class is enabled (upper, lower, numeric and special are all false)")
	}
	for len(out) < p.length {
		c, err := pick(pool)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}

	// Fisher-Yates with crypto/rand.
	for i := len(out) - 1; i > 0; i-- {
		j, err := randInt(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func pick(chars string) (byte, error) {
	i, err := randInt(len(chars))
	if err != nil {
		return 0, err
	}
	return chars[i], nil
}

// randInt is a uniform integer in [0, n) from crypto/rand.
func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}
