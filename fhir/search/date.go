package search

import (
	"errors"
	"math"
	"time"
)

// Open ends of a date range.
const (
	DateMin int64 = math.MinInt64
	DateMax int64 = math.MaxInt64
)

var errBadDate = errors.New("not a FHIR date, dateTime or instant (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm])")

// DateRange returns the inclusive range of Unix milliseconds that the FHIR
// date, dateTime or instant s denotes at its precision: "2026" is the whole
// year, "2026-03-01T10:00" the whole minute, "2026-03-01T10:00:00.5" the
// 100 ms from .500 to .599. Fractions beyond milliseconds are truncated.
//
// A value without a time zone (every date, and a dateTime whose time has
// none, which only search URLs allow) is taken as UTC: the server has no
// better local time zone to assume. In a search URL the "+" of a zone
// offset often arrives decoded as a space; a space is accepted in its
// place.
func DateRange(s string) (low, high int64, err error) {
	p := dateParser{s: s}
	year, ok := p.digits(4)
	if !ok {
		return 0, 0, errBadDate
	}
	month, day := 1, 1
	var hour, minute, sec, msec int
	prec := precYear
	step := time.Duration(0) // the precision of a time: minute, second, or a fraction of one
	off := 0                 // zone offset in seconds east of UTC
	if p.eat('-') {
		if month, ok = p.digits(2); !ok || month < 1 || month > 12 {
			return 0, 0, errBadDate
		}
		prec = precMonth
		if p.eat('-') {
			if day, ok = p.digits(2); !ok || day < 1 || day > daysIn(year, month) {
				return 0, 0, errBadDate
			}
			prec = precDay
			if p.eat('T') {
				if hour, ok = p.digits(2); !ok || hour > 23 || !p.eat(':') {
					return 0, 0, errBadDate
				}
				if minute, ok = p.digits(2); !ok || minute > 59 {
					return 0, 0, errBadDate
				}
				prec, step = precTime, time.Minute
				if p.eat(':') {
					if sec, ok = p.digits(2); !ok || sec > 59 {
						return 0, 0, errBadDate
					}
					step = time.Second
					if p.eat('.') {
						n := 0
						for p.i < len(p.s) && isDigitByte(p.s[p.i]) {
							if n < 3 {
								msec = msec*10 + int(p.s[p.i]-'0')
							}
							n++
							p.i++
						}
						if n == 0 {
							return 0, 0, errBadDate
						}
						step = time.Millisecond
						for k := n; k < 3; k++ {
							msec *= 10
							step *= 10
						}
					}
				}
				if off, ok = p.zone(); !ok {
					return 0, 0, errBadDate
				}
			}
		}
	}
	if p.i != len(p.s) {
		return 0, 0, errBadDate
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, msec*int(time.Millisecond), time.UTC)
	t = t.Add(-time.Duration(off) * time.Second)
	var end time.Time
	switch prec {
	case precYear:
		end = t.AddDate(1, 0, 0)
	case precMonth:
		end = t.AddDate(0, 1, 0)
	case precDay:
		end = t.AddDate(0, 0, 1)
	default:
		end = t.Add(step)
	}
	return t.UnixMilli(), end.UnixMilli() - 1, nil
}

const (
	precYear = iota
	precMonth
	precDay
	precTime
)

type dateParser struct {
	s string
	i int
}

func (p *dateParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dateParser) digits(n int) (int, bool) {
	if p.i+n > len(p.s) {
		return 0, false
	}
	v := 0
	for k := range n {
		c := p.s[p.i+k]
		if !isDigitByte(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

// zone parses an optional Z, +hh:mm or -hh:mm (or " hh:mm", a "+" decoded
// to a space) and returns the offset in seconds.
func (p *dateParser) zone() (int, bool) {
	if p.i == len(p.s) {
		return 0, true
	}
	if p.eat('Z') {
		return 0, true
	}
	sign := 1
	switch p.s[p.i] {
	case '+', ' ':
	case '-':
		sign = -1
	default:
		return 0, false
	}
	p.i++
	h, ok := p.digits(2)
	if !ok || h > 14 || !p.eat(':') {
		return 0, false
	}
	m, ok := p.digits(2)
	if !ok || m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
