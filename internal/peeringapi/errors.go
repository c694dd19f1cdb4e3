package peeringapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is a refusal with its HTTP status and field errors.
type apiError struct {
	code   int
	fields []FieldError
}

func (e *apiError) Error() string {
	if len(e.fields) == 0 {
		return http.StatusText(e.code)
	}
	f := e.fields[0]
	return fmt.Sprintf("%s: %v", f.Name, f.Errors)
}

// refuse builds an apiError for one field.
func refuse(code int, field, format string, args ...any) *apiError {
	return &apiError{code: code, fields: []FieldError{{Name: field, Errors: []string{fmt.Sprintf(format, args...)}}}}
}

// add appends a field error.
func (e *apiError) add(field, format string, args ...any) {
	for i := range e.fields {
		if e.fields[i].Name == field {
			e.fields[i].Errors = append(e.fields[i].Errors, fmt.Sprintf(format, args...))
			return
		}
	}
	e.fields = append(e.fields, FieldError{Name: field, Errors: []string{fmt.Sprintf(format, args...)}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.code == http.StatusUnauthorized {
		// RFC 6750 §3.
		w.Header().Set("WWW-Authenticate", `Bearer realm="peering-api"`)
	}
	writeJSON(w, e.code, ErrorResponse{Errors: e.fields})
}
