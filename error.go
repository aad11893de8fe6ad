package rechargekit

import (
	"errors"
	"fmt"
)

// Error codes. Callers branch on these, never on message text; each adapter
// maps them to its own status codes in one table.
const (
	EINVALID      = "invalid"      // the caller's input is wrong
	ENOTFOUND     = "not_found"    // the thing does not exist
	EUNAUTHORIZED = "unauthorized" // missing or bad credentials
	ECONFLICT     = "conflict"     // the request clashes with current state
	EFORBIDDEN    = "forbidden"    // the caller is known but may not do this
	EREFUSED      = "refused"      // Recharge refused a change (its message is kept)
	EUPSTREAM     = "upstream"     // a dependency (Recharge, the database) is unavailable, slow or refusing us
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is the domain error. Message is written for the person who sees it;
// Err, when set, keeps the underlying cause for logs and errors.Is/As.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("rechargekit: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("rechargekit: %s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a domain error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns a domain error with the given code and message that keeps err as its cause.
func WrapError(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the user-facing message of the first *Error in err's
// chain, or a generic message for any other error, so internal detail never
// reaches a user.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
