package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/rechargekit/rechargekit/recharge"
)

// webhooksCommand registers (or removes) the Recharge webhooks that keep
// cards fresh: rechargekit webhooks install --url URL [--uninstall].
type webhooksCommand struct {
	m         *Main
	url       string
	uninstall bool
}

func (c *webhooksCommand) parseFlags(args []string) error {
	if len(args) == 0 || args[0] != "install" {
		return errors.New("usage: rechargekit webhooks install --url URL [--uninstall]")
	}
	fs := c.m.newFlagSet("webhooks install", "--url https://HOST/webhooks/recharge [--uninstall] (token from $RECHARGE_API_TOKEN)")
	fs.StringVar(&c.url, "url", "", "where Recharge should post: this service's /webhooks/recharge, reachable from the internet")
	fs.BoolVar(&c.uninstall, "uninstall", false, "remove the webhooks registered to --url instead")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(c.url)
	if c.url == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("--url must be an absolute http(s) URL, e.g. https://rechargekit.example.com/webhooks/recharge")
	}
	return c.m.checkRechargeEnv()
}

func (c *webhooksCommand) run(ctx context.Context) error {
	client, err := c.m.rechargeClient(c.m.oneShotLogger())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w := c.m.Stdout
	if c.uninstall {
		removed, err := recharge.UninstallWebhooks(ctx, client, c.url)
		for _, h := range removed {
			fmt.Fprintf(w, "removed  %-28s #%d\n", h.Topic, h.ID)
		}
		if err != nil {
			return fmt.Errorf("remove webhooks: %w", err)
		}
		fmt.Fprintf(w, "%d webhook(s) to %s removed\n", len(removed), c.url)
		return nil
	}
	created, err := recharge.InstallWebhooks(ctx, client, c.url, recharge.CardTopics)
	for _, h := range created {
		fmt.Fprintf(w, "added    %-28s #%d\n", h.Topic, h.ID)
	}
	if err != nil {
		return fmt.Errorf("register webhooks (those listed above were added): %w", err)
	}
	all, err := recharge.ListWebhooks(ctx, client, c.url)
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	fmt.Fprintf(w, "%d webhook(s) added; %s now receives %d topic(s). Set RECHARGE_WEBHOOK_SECRET to the token's API client secret so their signatures verify.\n",
		len(created), c.url, len(all))
	return nil
}
