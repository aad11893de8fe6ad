package recharge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Webhook headers Recharge sets on every delivery.
const (
	HeaderTopic              = "X-Recharge-Topic"
	HeaderHmacSha256         = "X-Recharge-Hmac-Sha256"      // legacy: hex(SHA-256(secret || body))
	HeaderWebhookTimestamp   = "X-Recharge-Webhook-Timestamp" // unix seconds
	HeaderWebhookSignature   = "X-Recharge-Webhook-Signature" // "t=<unix>,v1=<hex hmac>"
	webhookSignatureVersion1 = "v1"
)

// SignWebhook returns the legacy X-Recharge-Hmac-Sha256 value for body.
// Despite the header's name this is not an HMAC: it is the lowercase hex
// SHA-256 of the API client secret's bytes followed by the raw body.
func SignWebhook(clientSecret string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(clientSecret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// SignWebhookTimestamped returns the X-Recharge-Webhook-Signature value for
// body sent at t: "t=<unix>,v1=<hex(HMAC-SHA256(secret, "<unix>." + body))>".
// The matching X-Recharge-Webhook-Timestamp header carries the same unix time.
func SignWebhookTimestamped(clientSecret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + "," + webhookSignatureVersion1 + "=" + timestampedMAC(clientSecret, ts, body)
}

func timestampedMAC(clientSecret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(clientSecret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
