package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// timeoutValue is a --udp-timeout or --tcp-idle-timeout: a Go duration
// longer than zero. Leaving the flag out keeps the profile's timeout (the
// zero value); giving 0 is refused rather than read as "the profile's", and
// a bare number is refused with the spelling that works (60 -> 60s) rather
// than guessed at.
type timeoutValue struct {
	d *time.Duration
}

func (v timeoutValue) String() string {
	if v.d == nil || *v.d == 0 {
		return ""
	}
	return v.d.String()
}

func (v timeoutValue) Type() string { return "DUR" }

func (v timeoutValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n <= 0 {
			return flagValueError{"must be longer than 0 (leave the flag out to use the profile's)"}
		}
		return flagValueError{"a timeout needs a unit: use " + s + "s (or e.g. 90s, 15m, 1h)"}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return flagValueError{"not a duration: use e.g. 90s, 15m, 1h30m"}
	}
	if d <= 0 {
		return flagValueError{"must be longer than 0 (leave the flag out to use the profile's)"}
	}
	*v.d = d
	return nil
}

// flagValueError is a flag value refused by its own Set, with the reason
// in words; flagError prints it as "--flag VALUE: reason" instead of
// pflag's "invalid argument ... for ... flag: reason".
type flagValueError struct{ reason string }

func (e flagValueError) Error() string { return e.reason }

// flagError is the root command's flag error function: every flag error is
// a usage error (exit 2), and a value refused by a flagValueError is told
// in one short line.
func flagError(err error) error {
	var ive *pflag.InvalidValueError
	var fve flagValueError
	if errors.As(err, &ive) && errors.As(err, &fve) {
		return &exitError{2, fmt.Errorf("--%s %s: %s", ive.GetFlag().Name, ive.GetValue(), fve.reason)}
	}
	return &exitError{2, err}
}
