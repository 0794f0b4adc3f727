package bim360

import "sync"

// maxTreeFacts bounds treeFacts' maps; they are cleared when full (the
// facts are an optimisation: without them the server decides).
const maxTreeFacts = 1 << 17

// treeFacts remembers what listings revealed about folders, so writes can
// refuse what BIM 360 forbids without extra calls: the project root folders
// (from project listings), the top folders and the nesting level of
// folders seen below them.
type treeFacts struct {
	mu    sync.Mutex
	depth map[string]int  // folder URN → level (top folders are 1); mu protects it
	roots map[string]bool // project root folder URNs; mu protects it
}

func newTreeFacts() *treeFacts {
	return &treeFacts{depth: map[string]int{}, roots: map[string]bool{}}
}

func (t *treeFacts) setRoot(folder string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.roots) >= maxTreeFacts {
		clear(t.roots)
	}
	t.roots[folder] = true
}

func (t *treeFacts) isRoot(folder string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.roots[folder]
}

// setDepth records folder's level; 0 is ignored (unknown).
func (t *treeFacts) setDepth(folder string, level int) {
	if level <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.depth) >= maxTreeFacts {
		clear(t.depth)
	}
	t.depth[folder] = level
}

// level returns folder's level, or 0 if unknown.
func (t *treeFacts) level(folder string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.depth[folder]
}

// forgetDepths drops every level: a folder moved, so the levels of its
// subtree changed.
func (t *treeFacts) forgetDepths() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.depth)
}
