package pdbtest

import "testing"

// exceptions.py, format_wait_time, quirks included.
func TestWaitText(t *testing.T) {
	for secs, want := range map[int64]string{
		1: "1 seconds", 59: "59 seconds", 60: "0 hours", 61: "1 minutes",
		3599: "59 minutes", 3600: "1 hours", 7199: "1 hours", 86400: "24 hours",
	} {
		if got := waitText(secs); got != want {
			t.Errorf("waitText(%d) = %q, want %q", secs, got, want)
		}
	}
}

// JsonResponse(json.loads(...)) as Python writes it; already spaced input
// (a replayed replay) comes out the same.
func TestPythonJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"meta":{"error":"a, b: \"c,d\""},"data":[1,2]}`: `{"meta": {"error": "a, b: \"c,d\""}, "data": [1, 2]}`,
		`{"meta": {"error": "x"}}`:                        `{"meta": {"error": "x"}}`,
	} {
		if got := string(pythonJSON([]byte(in))); got != want {
			t.Errorf("pythonJSON(%s) = %s, want %s", in, got, want)
		}
	}
}
