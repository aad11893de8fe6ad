package gladly

import (
	"encoding/json"
	"strings"
	"sync"
	"weak"

	"github.com/rechargekit/rechargekit"
)

// maxMemoAnswers bounds the answer memo; past it the memo starts over.
const maxMemoAnswers = 4096

// answerMemo keeps the encoded DETAILED answer of each card, so that a
// warm lookup, which gets the very card the cache holds, writes bytes
// already made instead of building and encoding the answer again: the
// encoding of a card with many subscriptions was most of a warm lookup's
// work and garbage. Cards are never changed once built (a stale answer is
// a marked copy, a new card), so a card's identity and the requested id
// decide the answer. Keys hold the card weakly: the memo never keeps a
// card alive after the cache has let it go.
type answerMemo struct {
	// opts are the handler's, the same for every answer.
	opts    DetailOptions
	mu      sync.Mutex
	answers map[memoKey][]byte
}

type memoKey struct {
	card weak.Pointer[rechargekit.Card]
	id   string // the requested externalCustomerId, echoed as sent
	// actions lists the names of the actions offered, joined: their
	// formUrls follow from the id.
	actions string
}

// detailedAnswer returns the encoded DETAILED answer for card, as asked for
// with externalID, offering actions (none when empty).
func (m *answerMemo) detailedAnswer(card *rechargekit.Card, externalID string, actions []Action) ([]byte, error) {
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = a.Name + "\x00" + a.FormURL
	}
	key := memoKey{card: weak.Make(card), id: externalID, actions: strings.Join(names, "\x00")}
	m.mu.Lock()
	body, ok := m.answers[key]
	m.mu.Unlock()
	if ok {
		return body, nil
	}
	res := m.opts.Result(card)
	// Gladly checks that the id it asked for comes back unchanged.
	res.ExternalCustomerID = externalID
	res.Actions = actions
	body, err := json.Marshal(&LookupResponse{Results: []Result{res}})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.answers == nil || len(m.answers) >= maxMemoAnswers {
		m.answers = make(map[memoKey][]byte)
	}
	m.answers[key] = body
	m.mu.Unlock()
	return body, nil
}
