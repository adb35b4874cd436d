package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"bothsides/bounce"
	"bothsides/digest"
	"bothsides/subscribers"
)

// apiBounces lists bounce events, newest first: all, an edition's
// (?edition=DATE, with &schedule=NAME, default "default") or a
// subscriber's (?subscriber=ID or an address, which also finds the
// unmatched events naming it); ?kind= one kind; ?before=ID the next page.
func (a *Admin) apiBounces(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := a.bounceFilter(ctx, r)
	if err != nil {
		a.error(w, r, err)
		return
	}
	list, err := bounce.List(ctx, a.db.R, f)
	if err != nil {
		a.error(w, r, err)
		return
	}
	body := map[string]any{"bounces": bounce.JSON(list)}
	if len(list) == f.Limit {
		body["next"] = "/api/bounces?" + nextQuery(r, list[len(list)-1].ID)
	}
	writeJSON(w, http.StatusOK, body)
}

func nextQuery(r *http.Request, before int64) string {
	q := r.URL.Query()
	q.Set("before", strconv.FormatInt(before, 10))
	return q.Encode()
}

// bounceFilter reads the query of GET /api/bounces; a bad value is a 400
// naming it, an unknown edition or subscriber a 404.
func (a *Admin) bounceFilter(ctx context.Context, r *http.Request) (bounce.Filter, error) {
	q := r.URL.Query()
	f := bounce.Filter{Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, badInput("limit %q: want 1 to 1000", v)
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, badInput("before %q: want an event id", v)
		}
		f.Before = n
	}
	if v := q.Get("kind"); v != "" {
		switch k := bounce.Kind(v); k {
		case bounce.KindHard, bounce.KindSoft, bounce.KindComplaint, bounce.KindAutoReply, bounce.KindDelivered,
			bounce.KindFeedback, bounce.KindUnparsed:
			f.Kind = k
		default:
			return f, badInput("kind %q: want hard, soft, complaint, autoreply, delivered, feedback or unparsed", v)
		}
	}
	if date := q.Get("edition"); date != "" {
		if _, err := time.Parse("2006-01-02", date); err != nil {
			return f, badInput("edition %q: want a date YYYY-MM-DD", date)
		}
		name := q.Get("schedule")
		if name == "" {
			name = digest.DefaultSchedule
		}
		e, err := a.stories.Edition(ctx, date, name)
		if err != nil {
			return f, err
		}
		f.Edition = e.ID
	}
	if v := strings.TrimSpace(q.Get("subscriber")); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			if _, err := a.subs.Find(ctx, id); err != nil {
				return f, err
			}
			f.Subscriber = id
		} else {
			if _, err := subscribers.NormalizeAddress(v); err != nil {
				return f, badInput("subscriber %q: want an id or an address", v)
			}
			f.Recipient = v
			s, err := a.subs.FindByEmail(ctx, v)
			if err != nil && !errors.Is(err, subscribers.ErrNotFound) {
				return f, err
			}
			if s != nil {
				f.Subscriber = s.ID
			}
		}
	}
	return f, nil
}

// kindCount is one kind's count on a console page.
type kindCount struct {
	Kind bounce.Kind
	N    int
}

// editionBounces is the bounces section of the console's edition page.
func (a *Admin) editionBounces(ctx context.Context, edition int64) ([]kindCount, []bounce.Record, error) {
	counts, err := bounce.Counts(ctx, a.db.R, edition)
	if err != nil {
		return nil, nil, err
	}
	var cs []kindCount
	for _, k := range bounce.Kinds {
		if counts[k] > 0 {
			cs = append(cs, kindCount{k, counts[k]})
		}
	}
	list, err := bounce.List(ctx, a.db.R, bounce.Filter{Edition: edition, Limit: 200})
	return cs, list, err
}

// subscriberPage shows one subscriber and what came back about them: the
// bounce events matched to them and the unmatched ones naming the address.
func (a *Admin) subscriberPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.error(w, r, errNotFound)
		return
	}
	s, err := a.subs.Find(ctx, id)
	if err != nil {
		a.error(w, r, err)
		return
	}
	list, err := bounce.List(ctx, a.db.R, bounce.Filter{Subscriber: id, Recipient: s.Email, Limit: 200})
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "subscriber", map[string]any{"Subscriber": s, "Bounces": list})
}
