package bim360

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bimfs/bimfs/remote"
)

// itemCheckTTL is how long a successful "this item still exists" check
// covers further reads of it. Reads must fail with NotFound once a file is
// deleted (or never existed), but checking before every range would spend
// the 300-a-minute GET item budget on a single busy file.
const itemCheckTTL = 5 * time.Minute

// maxCheckedItems bounds the check cache; it is swept when full.
const maxCheckedItems = 16384

// itemChecker confirms that items exist and are not deleted, with one GET
// item (which includes the tip) per item at a time and per itemCheckTTL.
type itemChecker struct {
	items *ItemsService
	now   func() time.Time
	group singleflight.Group

	mu   sync.Mutex
	seen map[string]checkedItem // by project + "|" + item; mu protects it
}

type checkedItem struct {
	at  time.Time
	tip remote.Version
}

func newItemChecker(items *ItemsService) *itemChecker {
	return &itemChecker{items: items, now: time.Now, seen: map[string]checkedItem{}}
}

// check returns the item's tip version, or a NotFound error if the item
// does not exist or was deleted.
func (c *itemChecker) check(ctx context.Context, project, item string) (remote.Version, error) {
	key := project + "|" + item
	c.mu.Lock()
	ci, ok := c.seen[key]
	c.mu.Unlock()
	if ok && c.now().Sub(ci.at) < itemCheckTTL {
		return ci.tip, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signTimeout)
		defer cancel()
		start := c.now()
		r, err := c.items.Get(cctx, project, item)
		if err != nil {
			return nil, err
		}
		tip, found := r.Tip()
		if !found {
			return nil, remote.Errorf(remote.Unavailable, opRead, "item %s came without its tip version", item)
		}
		if live, why := alive(&r.Data, tip); !live {
			return nil, remote.Errorf(remote.NotFound, opRead, "%s", why)
		}
		v := fileEntry("", tip).Version
		c.mu.Lock()
		if len(c.seen) >= maxCheckedItems {
			for k, s := range c.seen {
				if start.Sub(s.at) >= itemCheckTTL {
					delete(c.seen, k)
				}
			}
			if len(c.seen) >= maxCheckedItems {
				clear(c.seen)
			}
		}
		c.seen[key] = checkedItem{at: start, tip: v}
		c.mu.Unlock()
		return v, nil
	})
	select {
	case <-ctx.Done():
		return remote.Version{}, &remote.Error{Kind: remote.Canceled, Op: opRead, Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			return remote.Version{}, r.Err
		}
		return r.Val.(remote.Version), nil
	}
}
