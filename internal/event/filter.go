package event

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Filter selects events; zero fields select everything.
type Filter struct {
	Since, Until time.Time
	Users        []string // login or effective user, by name or id
	Kinds        []string
	Keys         []string // rule keys
	GoOnly       bool     // only the Go-environment kinds
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	if f.GoOnly && !slices.Contains(Kinds, e.Gotrail.Kind) {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Gotrail.Kind) {
		return false
	}
	if len(f.Keys) > 0 {
		found := false
		for _, k := range e.Tags {
			if slices.Contains(f.Keys, k) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(f.Users) > 0 && !f.matchUser(e) {
		return false
	}
	return true
}

func (f *Filter) matchUser(e *Event) bool {
	var ids []string
	if a := e.User.Audit; a != nil {
		ids = append(ids, a.ID, a.Name)
	}
	if ef := e.User.Effective; ef != nil {
		ids = append(ids, ef.ID, ef.Name)
	} else {
		ids = append(ids, e.User.ID, e.User.Name)
	}
	for _, u := range f.Users {
		if u != "" && slices.Contains(ids, u) {
			return true
		}
	}
	return false
}

// ParseTime reads a time bound as an operator writes one: RFC 3339
// (2026-11-25T20:16:49Z), a date (2026-11-25, local midnight), a duration
// back from now (2h, 30m, 7d), or today, yesterday, now.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "now":
		return now, nil
	case "today":
		y, m, d := now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, now.Location()), nil
	case "yesterday":
		y, m, d := now.Date()
		return time.Date(y, m, d-1, 0, 0, 0, 0, now.Location()), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, now.Location()); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-11-25T20:16:49Z), a date (2026-11-25), a duration back from now (2h, 7d), today or yesterday", s)
}
