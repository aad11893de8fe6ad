package server

import (
	"errors"
	"net/http"

	"github.com/rechargekit/rechargekit"
)

// errorStatus is the one table from error codes to HTTP statuses, for the
// JSON API and the console alike. A code outside it is an internal error.
var errorStatus = map[string]int{
	rechargekit.EINVALID:      http.StatusBadRequest,
	rechargekit.EUNAUTHORIZED: http.StatusUnauthorized,
	rechargekit.ENOTFOUND:     http.StatusNotFound,
	rechargekit.ECONFLICT:     http.StatusConflict,
	rechargekit.EFORBIDDEN:    http.StatusForbidden,
	rechargekit.EREFUSED:      http.StatusUnprocessableEntity,
	rechargekit.EUPSTREAM:     http.StatusServiceUnavailable,
	rechargekit.EINTERNAL:     http.StatusInternalServerError,
	codeTooLarge:              http.StatusRequestEntityTooLarge,
}

// internalMessage is what the JSON API says of an internal error, whose
// detail only the log holds.
const internalMessage = "An internal error occurred."

// errorTitles titles the console's error page for each code in
// errorStatus, for pages that do not name what was not found or refused.
var errorTitles = map[string]string{
	rechargekit.EINVALID:      "Not a valid request",
	rechargekit.EUNAUTHORIZED: "Not signed in",
	rechargekit.ENOTFOUND:     "Not found",
	rechargekit.ECONFLICT:     "Conflict",
	rechargekit.EFORBIDDEN:    "Not allowed",
	rechargekit.EREFUSED:      "Refused by Recharge",
	rechargekit.EUPSTREAM:     "Recharge is unavailable",
	codeTooLarge:              "Too large",
}

// renderError is the console's one error renderer, the twin of the JSON
// API's apiError. The status comes from errorStatus and the title from
// errorTitles, unless the page names its own; the message is the domain
// error's, which is written for the person who reads it. An internal error
// (or a code outside the table) is logged with its detail and shown with a
// generic sentence (internalError). Recharge refusing rechargekit's own
// token is logged as the configuration error it is.
func (c *console) renderError(w http.ResponseWriter, r *http.Request, s *auth, title string, err error) {
	code := rechargekit.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok || code == rechargekit.EINTERNAL {
		c.internalError(w, r, s, err)
		return
	}
	if errors.Is(err, rechargekit.ErrUpstreamRefused) {
		c.log.ErrorContext(r.Context(), "console: Recharge refused the API token: check RECHARGE_API_TOKEN and its scopes", "path", r.URL.Path, "error", err)
	}
	if title == "" {
		title = errorTitles[code]
	}
	c.errorPage(w, r, s, status, title, rechargekit.ErrorMessage(err))
}

// flashKeys names, for the outcomes of one console action, the flash its
// redirect shows: the key "" is success, the others are error codes.
type flashKeys map[string]string

// redirectAfter ends a console action: an outcome that fl names (nil err
// is "") leaves that notice for the session's next page and redirects to
// back (redirectWithFlash); any other error is rendered by renderError.
func (c *console) redirectAfter(w http.ResponseWriter, r *http.Request, s *auth, back string, err error, fl flashKeys) {
	msg, ok := fl[rechargekit.ErrorCode(err)]
	if !ok {
		c.renderError(w, r, s, "", err)
		return
	}
	c.redirectWithFlash(w, r, s, back, msg)
}

// formProblem reports whether a form shows err beside itself rather than
// on an error page, and with which status and message: EINVALID and
// ECONFLICT are about what was typed, so the form is shown again to fix
// it. conflict, when not "", says what the input clashed with in the
// form's own words.
func formProblem(err error, conflict string) (status int, message string, ok bool) {
	switch code := rechargekit.ErrorCode(err); code {
	case rechargekit.EINVALID:
		return errorStatus[code], rechargekit.ErrorMessage(err), true
	case rechargekit.ECONFLICT:
		if conflict == "" {
			conflict = rechargekit.ErrorMessage(err)
		}
		return errorStatus[code], conflict, true
	}
	return 0, "", false
}

// storeTitle titles the error page of a failed store call: a database
// that does not answer (EUPSTREAM from the store) is not Recharge's fault,
// whatever errorTitles says of EUPSTREAM; other errors keep title.
func storeTitle(err error, title string) string {
	if rechargekit.ErrorCode(err) == rechargekit.EUPSTREAM {
		return databaseTitle
	}
	return title
}

// noSuchProfile is how the console reports a profile id that names no
// profile: an id the store refuses as invalid names none either. Other
// errors pass unchanged.
func noSuchProfile(err error) error {
	switch rechargekit.ErrorCode(err) {
	case rechargekit.ENOTFOUND, rechargekit.EINVALID:
		return rechargekit.WrapError(rechargekit.ENOTFOUND,
			"There is no desk profile with this id. It may not have been sent to rechargekit yet.", err)
	}
	return err
}
