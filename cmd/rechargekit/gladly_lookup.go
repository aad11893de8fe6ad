package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/search"
)

// gladlyLookupCommand sends lookups to a Lookup Adaptor exactly as Gladly
// does (headers, signature, request shapes), so an admin can check a
// deployment before pointing Gladly at it. It also fetches an action's
// form and submits it, signed, so that an admin can try the actions.
type gladlyLookupCommand struct {
	m             *Main
	url           string
	key           string
	email         string
	phone         string
	customerID    string
	detailed      bool
	form          string
	submit        string
	fields        fieldFlags
	basicUser     string
	basicPassword string
	timeout       time.Duration
}

func (c *gladlyLookupCommand) parseFlags(args []string) error {
	fs := c.m.newFlagSet("gladly-lookup", "--url URL --key KEY (--email E [--phone P] | --phone P | --customer-id ID [--detailed] | --form FORMURL | --submit ACTIONURL --field ATTR=VALUE ...)")
	fs.StringVar(&c.url, "url", "", "the adaptor's lookup URL, e.g. https://rechargekit.example.com/gladly/lookup")
	fs.StringVar(&c.key, "key", "", "the Gladly app's signing key (default $GLADLY_SIGNING_KEY; unsigned when empty)")
	fs.StringVar(&c.email, "email", "", "send the auto-link suggestion Gladly sends for an unlinked profile with this email")
	fs.StringVar(&c.phone, "phone", "", "send the auto-link suggestion Gladly sends for an unlinked profile with this mobile phone, in E.164 as Gladly keeps it ($PHONE_DEFAULT_REGION for a number without a country code; with --email: a profile with both)")
	fs.StringVar(&c.customerID, "customer-id", "", "send an agent's search by Recharge customer id")
	fs.BoolVar(&c.detailed, "detailed", false, "follow with the DETAILED lookup Gladly sends once the profile is linked")
	fs.StringVar(&c.form, "form", "", "fetch an action's form (a formUrl of a DETAILED result, relative to --url or absolute) and print it")
	fs.StringVar(&c.submit, "submit", "", "submit an action's form to its actionUrl (relative to --url or absolute) with the --field values")
	fs.Var(&c.fields, "field", "a form field of --submit, as attr=value (repeat it; e.g. --field subscriptionId=585062093)")
	fs.StringVar(&c.basicUser, "basic-user", "", "Basic auth user, when the app has one")
	fs.StringVar(&c.basicPassword, "basic-password", "", "Basic auth password (default $GLADLY_BASIC_PASSWORD)")
	fs.DurationVar(&c.timeout, "timeout", gladly.MaxDeadline, "give up after this long (Gladly gives up after 15s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.key == "" {
		c.key = c.m.Getenv("GLADLY_SIGNING_KEY")
	}
	if c.basicPassword == "" {
		c.basicPassword = c.m.Getenv("GLADLY_BASIC_PASSWORD")
	}
	switch {
	case c.url == "":
		return errors.New("--url is required")
	case checkHTTPURL(c.url) != nil:
		return fmt.Errorf("--url %w", checkHTTPURL(c.url))
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	case countSet(c.email+c.phone, c.customerID, c.form, c.submit) != 1:
		return errors.New("give exactly one of --email or --phone (or both: one profile), --customer-id, --form or --submit")
	case len(c.fields) > 0 && c.submit == "":
		return errors.New("--field goes with --submit")
	case c.detailed && (c.form != "" || c.submit != ""):
		return errors.New("--detailed goes with --email, --phone or --customer-id")
	}
	if c.phone != "" {
		// Gladly keeps a profile's phones in E.164 and sends them so; a
		// number without a country code takes PHONE_DEFAULT_REGION's.
		if err := c.m.checkEnv("PHONE_DEFAULT_REGION"); err != nil {
			return err
		}
		e164 := search.Phone(c.phone, c.m.envOr("PHONE_DEFAULT_REGION", search.DefaultRegion))
		if e164 == "" {
			return fmt.Errorf("--phone %q is not a phone number", c.phone)
		}
		c.phone = e164
	}
	return nil
}

// countSet counts the non-empty values.
func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// fieldFlags collects repeated --field attr=value flags.
type fieldFlags map[string]string

func (f *fieldFlags) String() string { return fmt.Sprint(map[string]string(*f)) }

func (f *fieldFlags) Set(v string) error {
	attr, value, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(attr) == "" {
		return fmt.Errorf("want attr=value, got %q", v)
	}
	if *f == nil {
		*f = fieldFlags{}
	}
	(*f)[strings.TrimSpace(attr)] = value
	return nil
}

func (c *gladlyLookupCommand) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	client := &gladly.Client{
		URL:           c.url,
		SigningKey:    c.key,
		BasicUser:     c.basicUser,
		BasicPassword: c.basicPassword,
		HTTPClient:    &http.Client{Timeout: c.timeout},
	}
	say := func(format string, args ...any) { fmt.Fprintf(c.m.Stderr, format+"\n", args...) }
	switch {
	case c.form != "":
		return c.runForm(ctx, client, say)
	case c.submit != "":
		return c.runSubmit(ctx, client, say)
	}

	var externalID string
	var basic *gladly.LookupResponse
	var err error
	profile := rechargekit.Profile{ID: "rechargekit-cli"}
	if c.email != "" || c.phone != "" {
		var fields, what []string
		if c.email != "" {
			profile.Emails = []string{c.email}
			fields, what = append(fields, gladly.AutoLinkEmails), append(what, c.email)
		}
		if c.phone != "" {
			// Gladly auto-links on the fields its app is set to use: the
			// emails and, here, the mobile phones.
			profile.Phones = []string{c.phone}
			fields, what = append(fields, gladly.AutoLinkMobilePhones), append(what, "mobile phone "+c.phone)
		}
		say("BASIC auto-link suggestion for %s", strings.Join(what, " and "))
		basic, err = client.AutoLink(ctx, profile)
		if err != nil {
			return c.describe(err)
		}
		id, decision := gladly.AutoLinkDecision(gladly.NewProfile(profile, gladly.PhoneMobile), basic.Results, fields)
		if decision != nil {
			say("%d result(s); Gladly would not auto-link: %v", len(basic.Results), decision)
		} else {
			say("1 result; Gladly would auto-link the profile to Recharge customer %s", id)
			externalID = id
		}
	} else {
		if _, err := strconv.ParseUint(c.customerID, 10, 63); err != nil {
			return fmt.Errorf("--customer-id %q is not a Recharge customer id (decimal digits)", c.customerID)
		}
		externalID = c.customerID
		if !c.detailed {
			say("BASIC search by Recharge customer id %s", c.customerID)
			basic, err = client.Search(ctx, map[string]string{gladly.QueryRechargeCustomerID: c.customerID})
			if err != nil {
				return c.describe(err)
			}
			say("%d result(s)", len(basic.Results))
		}
	}
	if !c.detailed {
		return printJSON(c.m, basic)
	}
	if externalID == "" {
		if err := printJSON(c.m, basic); err != nil {
			return err
		}
		return errors.New("no single customer to look up in detail: pass --customer-id with one of the results")
	}
	say("DETAILED lookup for Recharge customer %s", externalID)
	detailed, err := client.Detailed(ctx, externalID, profile)
	if err != nil {
		return c.describe(err)
	}
	if len(detailed.Results) == 0 {
		say("no such customer in Recharge")
	} else {
		if r := detailed.Results[0]; r.Orders != nil {
			say("%d ORDER transaction(s), one per subscription", len(r.Orders))
		} else {
			say("%d subscription transaction(s)", len(r.Transactions))
		}
	}
	return printJSON(c.m, detailed)
}

// runForm fetches and prints an action's form, as Gladly shows it.
func (c *gladlyLookupCommand) runForm(ctx context.Context, client *gladly.Client, say func(string, ...any)) error {
	say("GET form %s", c.form)
	form, err := client.Form(ctx, c.form)
	if err != nil {
		return c.describe(err)
	}
	var inputs []string
	for _, s := range form.Sections {
		if s.Type == "input" {
			inputs = append(inputs, s.Attr)
		}
	}
	say("form %q: submit to %s with the fields %s", form.Title, form.ActionURL, strings.Join(inputs, ", "))
	return printJSON(c.m, form)
}

// runSubmit submits an action's form and prints the answer: Gladly's
// success (200), or the errors of a form kept open (400) or closed (406),
// which fail the command.
func (c *gladlyLookupCommand) runSubmit(ctx context.Context, client *gladly.Client, say func(string, ...any)) error {
	say("POST submit %s", c.submit)
	answer, err := client.Submit(ctx, c.submit, c.fields)
	var re *gladly.ResponseError
	switch {
	case err == nil:
		say("done: %s", answer.Message)
		return printJSON(c.m, answer)
	case errors.As(err, &re) && (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusNotAcceptable):
		if perr := printJSON(c.m, gladly.ErrorResponse{Errors: re.Errors}); perr != nil {
			return perr
		}
		if re.StatusCode == http.StatusBadRequest {
			return errors.New("not applied; Gladly would keep the form open: fix the marked field, or submit again to confirm the preview shown")
		}
		return errors.New("refused; Gladly would close the form")
	}
	return c.describe(err)
}

// describe adds the likely cause to an adaptor's refusal.
func (c *gladlyLookupCommand) describe(err error) error {
	var re *gladly.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("the adaptor refused the request (check --key and Basic credentials): %w", err)
	}
	return err
}

func printJSON(m *Main, v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
