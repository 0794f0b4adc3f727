package cache

import "strconv"

// blockKey names one block of one immutable version.
type blockKey struct {
	version string
	index   int64
}

// String is the key's canonical text, used for hashing and in logs.
func (k blockKey) String() string {
	return k.version + "\x00" + strconv.FormatInt(k.index, 10)
}

// blockLen is the length of block k of a file of size bytes.
func blockLen(size, bs, k int64) int64 {
	return max(0, min(bs, size-k*bs))
}

// numBlocks is the number of blocks of a file of size bytes.
func numBlocks(size, bs int64) int64 {
	return (size + bs - 1) / bs
}

// pending is one block on its way: data or err is set before done is closed,
// and never changes afterwards.
type pending struct {
	key  blockKey
	f    *fetch // nil for a block that was already available
	done chan struct{}
	data []byte
	err  error
}

// closedChan is the done channel of pendings that are born complete.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// ready wraps bytes that are already at hand as a complete pending block.
func ready(k blockKey, data []byte) *pending {
	return &pending{key: k, done: closedChan, data: data}
}

// isDone reports whether p has its data or error.
func (p *pending) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
