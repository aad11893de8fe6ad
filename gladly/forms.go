package gladly

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// Form is the JSON form Gladly shows for an action (spec section 14.2).
type Form struct {
	Title        string        `json:"title"`
	SubmitButton string        `json:"submitButton"`
	CloseButton  string        `json:"closeButton"`
	ActionURL    string        `json:"actionUrl"`
	Sections     []FormSection `json:"sections"`
}

// FormSection is one section of a form: a line of text ("text") or an
// input ("input").
type FormSection struct {
	Type         string     `json:"type"`
	Text         string     `json:"text,omitempty"`
	Label        string     `json:"label,omitempty"`
	Attr         string     `json:"attr,omitempty"`
	Hint         string     `json:"hint,omitempty"`
	DefaultValue any        `json:"defaultValue,omitempty"`
	Input        *FormInput `json:"input,omitempty"`
}

// FormInput is the input of an "input" section: select, checkbox or text.
type FormInput struct {
	Type        string       `json:"type"`
	Placeholder string       `json:"placeholder,omitempty"`
	Optional    bool         `json:"optional"`
	Text        string       `json:"text,omitempty"` // a checkbox's text
	Options     []FormOption `json:"options,omitempty"`
}

// FormOption is one option of a select; values are unique.
type FormOption struct {
	Text  string `json:"text"`
	Value string `json:"value"`
}

func textSection(format string, args ...any) FormSection {
	return FormSection{Type: "text", Text: fmt.Sprintf(format, args...)}
}

// subscriptionName names a subscription for the agent: "Cat Pajamas
// (Large)".
func subscriptionName(s *rechargekit.Subscription) string {
	name := strings.TrimSpace(s.Product.Name)
	if name == "" {
		return "subscription " + strconv.FormatInt(s.ID, 10)
	}
	if v := strings.TrimSpace(s.Product.VariantName); v != "" && !strings.EqualFold(v, "Default Title") {
		name += " (" + v + ")"
	}
	return name
}

// intervalText reads "every 30 days", "every month".
func intervalText(unit string, n int) string {
	switch {
	case unit == "":
		return "at an unknown interval"
	case n == 1:
		return "every " + unit
	}
	return fmt.Sprintf("every %d %ss", n, unit)
}

// optionText is a subscription as the select lists it: product, variant,
// price and interval, "Cat Pajamas (Large), 49.50 USD every 30 days".
func optionText(s *rechargekit.Subscription) string {
	price := strings.TrimSpace(s.Price + " " + s.Currency)
	if s.Quantity > 1 {
		price = fmt.Sprintf("%d × %s", s.Quantity, price)
	}
	return fmt.Sprintf("%s, %s %s", subscriptionName(s), price, intervalText(s.IntervalUnit, s.ChargeIntervalFrequency))
}

// serveForm answers GET <formUrl>: the eligible subscriptions, the preview
// of the first one, and the inputs the action needs.
func (h *Handler) serveForm(ctx context.Context, x *exchange, action string, customerID int64, corr string) {
	actor := gladlyActor(corr)
	target := rechargekit.ActionTarget{CustomerID: customerID}
	subs, err := within(ctx, func() ([]*rechargekit.SubscriptionActions, error) {
		return h.actions.Offers(ctx, target, actor)
	})
	if err != nil {
		h.failForm(x, err)
		return
	}
	texts := actionTexts[action]
	form := Form{Title: texts.title, SubmitButton: texts.submit, CloseButton: "Close", ActionURL: h.actionURL(action, customerID, nil)}
	if action == rechargekit.ActionCancel {
		form.CloseButton = "Keep it"
	}
	list := eligible(subs, action)
	if len(list) == 0 {
		form.Sections = append(form.Sections, textSection("No subscription of this customer can be changed this way now."))
		for _, sa := range subs {
			for _, o := range sa.Offers {
				if o.Action == action && o.Why != "" {
					form.Sections = append(form.Sections, textSection("%s: %s", subscriptionName(sa.Subscription), o.Why))
				}
			}
		}
		x.writeJSON(http.StatusOK, form)
		return
	}
	first := list[0]
	var preview *rechargekit.ActionPreview
	if takesInput(action) {
		form.Sections = append(form.Sections, currentState(action, first)...)
		form.Sections = append(form.Sections, textSection(
			"When you submit, rechargekit shows what the change will do; submit again to apply it."))
	} else {
		preview, err = within(ctx, func() (*rechargekit.ActionPreview, error) {
			return h.actions.Preview(ctx, target, actor, &rechargekit.ActionRequest{Action: action, SubscriptionID: first.ID})
		})
		switch rechargekit.ErrorCode(err) {
		case "":
		case rechargekit.ECONFLICT, rechargekit.EFORBIDDEN, rechargekit.EINVALID, rechargekit.ENOTFOUND:
			// The subscription changed since the offers were read: the
			// form still opens, says why, and a submit answers the preview.
			preview = nil
		default:
			h.failForm(x, err)
			return
		}
	}
	if preview == nil && !takesInput(action) {
		form.Sections = append(form.Sections, textSection("%s: %s", subscriptionName(first), rechargekit.ErrorMessage(err)))
		form.Sections = append(form.Sections, textSection(
			"When you submit, rechargekit shows what it will do; submit again to apply it."))
	} else if preview != nil {
		form.Sections = append(form.Sections, textSection("If you pick %s:", subscriptionName(first)))
		for _, line := range preview.Summary {
			form.Sections = append(form.Sections, textSection("%s", line))
		}
		if len(list) > 1 {
			form.Sections = append(form.Sections, textSection(
				"For another subscription, rechargekit shows what it will do when you submit; submit again to apply it."))
		}
		form.ActionURL = h.actionURL(action, customerID, url.Values{
			paramPreviewed: {strconv.FormatInt(first.ID, 10)},
			paramToken:     {preview.Token},
		})
	}
	options := make([]FormOption, 0, len(list))
	for _, s := range list {
		options = append(options, FormOption{Text: optionText(s), Value: strconv.FormatInt(s.ID, 10)})
	}
	form.Sections = append(form.Sections, FormSection{
		Type: "input", Label: "Subscription", Attr: FieldSubscriptionID, DefaultValue: options[0].Value,
		Input: &FormInput{Type: "select", Placeholder: "Pick one", Options: options},
	})
	form.Sections = append(form.Sections, h.inputs(action, first, preview)...)
	x.writeJSON(http.StatusOK, form)
}

// currentState says, for an action whose preview needs the agent's input,
// what the first eligible subscription has now.
func currentState(action string, s *rechargekit.Subscription) []FormSection {
	name := subscriptionName(s)
	switch action {
	case rechargekit.ActionSetNextChargeDate:
		return []FormSection{textSection("%s: the next charge is on %s.", name, s.NextChargeDate)}
	case rechargekit.ActionChangeFrequency:
		return []FormSection{textSection("%s: charged %s, delivered %s.", name,
			intervalText(s.IntervalUnit, s.ChargeIntervalFrequency), intervalText(s.IntervalUnit, s.OrderIntervalFrequency))}
	default:
		return []FormSection{textSection("%s: quantity %d at %s each.", name, s.Quantity, strings.TrimSpace(s.Price+" "+s.Currency))}
	}
}

// inputs are the form's inputs for what the action needs beyond the
// subscription.
func (h *Handler) inputs(action string, first *rechargekit.Subscription, preview *rechargekit.ActionPreview) []FormSection {
	switch action {
	case rechargekit.ActionCancel:
		reason := FormSection{Type: "input", Label: "Reason", Attr: FieldReason,
			Hint:  "The store has no cancellation reasons in Recharge: write why.",
			Input: &FormInput{Type: "text"}}
		if preview != nil && len(preview.Reasons) > 0 {
			opts := make([]FormOption, len(preview.Reasons))
			for i, r := range preview.Reasons {
				opts[i] = FormOption{Text: r, Value: r}
			}
			reason.Hint = "The store's own reasons, as its churn reports count them."
			reason.Input = &FormInput{Type: "select", Placeholder: "Pick one", Options: opts}
		}
		return []FormSection{
			reason,
			{Type: "input", Label: "Comments", Attr: FieldComments, Hint: "Recharge's timeline shows them, followed by \"(by Gladly via rechargekit)\".",
				Input: &FormInput{Type: "text", Optional: true}},
			{Type: "input", Label: "Notify the customer", Attr: FieldSendEmail, DefaultValue: true,
				Input: &FormInput{Type: "checkbox", Text: "Email a confirmation"}},
		}
	case rechargekit.ActionSetNextChargeDate:
		hint := "YYYY-MM-DD, after today."
		if d, err := time.Parse("2006-01-02", first.NextChargeDate); err == nil {
			hint = fmt.Sprintf("YYYY-MM-DD, after today. 1, 2 or 4 weeks after the current next charge (%s): %s, %s, %s.",
				first.NextChargeDate, d.AddDate(0, 0, 7).Format("2006-01-02"), d.AddDate(0, 0, 14).Format("2006-01-02"), d.AddDate(0, 0, 28).Format("2006-01-02"))
		}
		return []FormSection{{Type: "input", Label: "Next charge date", Attr: FieldDate, Hint: hint,
			Input: &FormInput{Type: "text", Placeholder: "YYYY-MM-DD"}}}
	case rechargekit.ActionChangeFrequency:
		units := []FormOption{{Text: "Days", Value: "day"}, {Text: "Weeks", Value: "week"}, {Text: "Months", Value: "month"}}
		unit := any(nil)
		if first.IntervalUnit != "" {
			unit = first.IntervalUnit
		}
		return []FormSection{
			{Type: "input", Label: "Every", Attr: FieldIntervalFrequency, Hint: "A whole number: charge and deliver every this many units.",
				Input: &FormInput{Type: "text", Placeholder: "e.g. 2"}},
			{Type: "input", Label: "Unit", Attr: FieldIntervalUnit, DefaultValue: unit,
				Input: &FormInput{Type: "select", Options: units}},
		}
	case rechargekit.ActionChangeQuantity:
		return []FormSection{{Type: "input", Label: "Quantity", Attr: FieldQuantity, Hint: "A whole number, 1 or more.",
			Input: &FormInput{Type: "text", Placeholder: strconv.Itoa(max(first.Quantity, 1))}}}
	}
	return nil
}

// submittedForm is a submit's body: attr -> value, each a string (a
// checkbox's true or false may come as a JSON boolean, a number as a JSON
// number).
type submittedForm struct {
	fields    map[string]string
	canonical string // the fields, encoded in one order: what the idempotency key hashes
}

// fieldError is a submit whose fields cannot be read: the attr to mark and
// why, in a full sentence.
type fieldError struct {
	attr, detail string
}

// parseSubmittedForm decodes a submit's body.
func parseSubmittedForm(body []byte) (*submittedForm, *fieldError) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return nil, &fieldError{attr: FieldSubscriptionID, detail: "The form's answer is not a JSON object of fields."}
	}
	f := &submittedForm{fields: make(map[string]string, len(raw))}
	for k, v := range raw {
		var s string
		var b bool
		var n json.Number
		switch {
		case json.Unmarshal(v, &s) == nil:
		case json.Unmarshal(v, &b) == nil:
			s = strconv.FormatBool(b)
		case json.Unmarshal(v, &n) == nil:
			s = n.String()
		case bytes.Equal(bytes.TrimSpace(v), []byte("null")):
		default:
			return nil, &fieldError{attr: k, detail: "This field must be text, a number or true/false."}
		}
		f.fields[k] = strings.TrimSpace(s)
	}
	canon, _ := json.Marshal(f.fields) // map keys are sorted
	f.canonical = string(canon)
	return f, nil
}

// request reads the fields the action needs into an ActionRequest.
func (f *submittedForm) request(action string) (*rechargekit.ActionRequest, *fieldError) {
	req := &rechargekit.ActionRequest{Action: action}
	id, err := strconv.ParseInt(f.fields[FieldSubscriptionID], 10, 64)
	if err != nil || id <= 0 {
		return nil, &fieldError{FieldSubscriptionID, "Pick the subscription."}
	}
	req.SubscriptionID = id
	whole := func(attr, what string) (int, *fieldError) {
		n, err := strconv.Atoi(f.fields[attr])
		if err != nil || n < 1 {
			return 0, &fieldError{attr, "The " + what + " must be a whole number, 1 or more."}
		}
		return n, nil
	}
	switch action {
	case rechargekit.ActionCancel:
		req.Reason, req.Comments = f.fields[FieldReason], f.fields[FieldComments]
		if req.Reason == "" {
			return nil, &fieldError{FieldReason, "The reason is required: choose why the subscription is cancelled."}
		}
		if v, ok := f.fields[FieldSendEmail]; ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, &fieldError{FieldSendEmail, "Notify the customer must be true or false."}
			}
			req.SendEmail = &b
		}
	case rechargekit.ActionSetNextChargeDate:
		req.Date = f.fields[FieldDate]
		if _, err := time.Parse("2006-01-02", req.Date); err != nil {
			return nil, &fieldError{FieldDate, "The date must be a day written as YYYY-MM-DD."}
		}
	case rechargekit.ActionChangeFrequency:
		req.IntervalUnit = f.fields[FieldIntervalUnit]
		switch strings.TrimSuffix(strings.ToLower(req.IntervalUnit), "s") {
		case "day", "week", "month":
		default:
			return nil, &fieldError{FieldIntervalUnit, "The unit must be days, weeks or months."}
		}
		n, ferr := whole(FieldIntervalFrequency, "frequency")
		if ferr != nil {
			return nil, ferr
		}
		req.IntervalFrequency = n
	case rechargekit.ActionChangeQuantity:
		n, ferr := whole(FieldQuantity, "quantity")
		if ferr != nil {
			return nil, ferr
		}
		req.Quantity = n
	}
	return req, nil
}

// invalidAttr is the field to mark when the service found the input
// invalid: the one input of the action, or, for a cancel, the reason
// unless the comments are what is long.
func (f *submittedForm) invalidAttr(action string) string {
	switch action {
	case rechargekit.ActionCancel:
		if len(f.fields[FieldComments]) > 1024-len(" (by Gladly via rechargekit)") {
			return FieldComments
		}
		return FieldReason
	case rechargekit.ActionSetNextChargeDate:
		return FieldDate
	case rechargekit.ActionChangeFrequency:
		return FieldIntervalFrequency
	case rechargekit.ActionChangeQuantity:
		return FieldQuantity
	}
	return FieldSubscriptionID
}
