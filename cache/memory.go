package cache

import (
	"fmt"

	"github.com/dgraph-io/ristretto/v2"
)

// memory is the ristretto memory tier. Ristretto keeps only hashes of keys,
// so each value carries its key and is checked on Get: a hash collision must
// never return another block's bytes.
type memory struct {
	c *ristretto.Cache[string, *memBlock]
}

type memBlock struct {
	key  blockKey
	data []byte
}

func newMemory(budget, blockSize int64) (*memory, error) {
	// Ristretto wants about ten counters per item it may hold.
	counters := max(10*budget/blockSize, 1000)
	c, err := ristretto.NewCache(&ristretto.Config[string, *memBlock]{
		NumCounters:        counters,
		MaxCost:            budget,
		BufferItems:        64,
		Metrics:            true,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: memory tier: %w", err)
	}
	return &memory{c: c}, nil
}

// get returns block k if held with exactly want bytes.
func (m *memory) get(k blockKey, want int64) ([]byte, bool) {
	v, ok := m.c.Get(k.String())
	if !ok || v.key != k || int64(len(v.data)) != want {
		return nil, false
	}
	return v.data, true
}

// set offers block k to the tier; ristretto may drop or reject it. data
// must not be modified afterwards.
func (m *memory) set(k blockKey, data []byte) {
	m.c.Set(k.String(), &memBlock{key: k, data: data}, int64(len(data)))
}

// del removes block k. Ristretto applies sets asynchronously, so pending
// sets are applied first: otherwise a set made just before (a block of a
// version found stale) could land after the delete and stay. Only the rare
// purge paths delete.
func (m *memory) del(k blockKey) {
	m.c.Wait()
	m.c.Del(k.String())
}

// used approximates the bytes held.
func (m *memory) used() int64 {
	return int64(m.c.Metrics.CostAdded()) - int64(m.c.Metrics.CostEvicted())
}

func (m *memory) close() { m.c.Close() }
