package report

import (
	"fmt"
	"strings"
	"time"
)

// Period is how often the operator starts a new report: a calendar month,
// an ISO week, or a fixed duration counted from the Unix epoch (UTC).
type Period struct {
	// Every is the fixed duration; 0 for Monthly and Weekly.
	Every time.Duration
	kind  string
}

var (
	Monthly = Period{kind: "monthly"}
	Weekly  = Period{kind: "weekly"}
)

// ParsePeriod reads monthly, weekly or a Go duration of at least an hour.
func ParsePeriod(s string) (Period, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "monthly", "month":
		return Monthly, nil
	case "weekly", "week":
		return Weekly, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour {
		return Period{}, fmt.Errorf("report period %q: want monthly, weekly or a duration of at least 1h (e.g. 24h)", s)
	}
	return Period{Every: d, kind: "every"}, nil
}

func (p Period) String() string {
	if p.kind == "every" {
		return p.Every.String()
	}
	return p.kind
}

// Of returns the period t falls in: its name (a valid object name, which
// sorts in time order) and its bounds in UTC, end excluded.
func (p Period) Of(t time.Time) (name string, start, end time.Time) {
	t = t.UTC()
	switch p.kind {
	case "weekly":
		y, w := t.ISOWeek()
		start = time.Date(t.Year(), t.Month(), t.Day()-(int(t.Weekday())+6)%7, 0, 0, 0, 0, time.UTC)
		return fmt.Sprintf("%04d-w%02d", y, w), start, start.AddDate(0, 0, 7)
	case "every":
		start = t.Truncate(p.Every) // Truncate counts from the zero time: same in every replica
		return start.Format("2006-01-02-1504"), start, start.Add(p.Every)
	default:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start.Format("2006-01"), start, start.AddDate(0, 1, 0)
	}
}
