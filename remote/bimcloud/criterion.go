package bimcloud

// Criterion is a get-resources-by-criterion query, a MongoDB-like object
// such as {"$and":[{"$eq":{"name":"a.png"}},{"$eq":{"$parentId":"…"}}]}.
// Build one with Eq, Ne, Like, And, Or and Not.
//
// Spec vs demo: the spec's example names the parent field "parentId";
// workflow.py queries "$parentId" and "$path", the names the Resource
// schema gives those read-only fields. The client uses the schema names.
type Criterion map[string]any

// Fields of Resource that criteria use.
const (
	FieldParentID = "$parentId"
	FieldPath     = "$path"
	FieldName     = "name"
	FieldType     = "type"
)

// Eq matches resources whose field equals value.
func Eq(field string, value any) Criterion { return Criterion{"$eq": map[string]any{field: value}} }

// Ne matches resources whose field differs from value.
func Ne(field string, value any) Criterion { return Criterion{"$ne": map[string]any{field: value}} }

// Like matches resources whose field matches the pattern.
func Like(field, pattern string) Criterion {
	return Criterion{"$like": map[string]any{field: pattern}}
}

// And matches resources matching every c.
func And(c ...Criterion) Criterion { return Criterion{"$and": c} }

// Or matches resources matching any c.
func Or(c ...Criterion) Criterion { return Criterion{"$or": c} }

// Not matches resources not matching c.
func Not(c Criterion) Criterion { return Criterion{"$not": c} }

// ChildrenOf matches the direct children of folder id.
func ChildrenOf(id string) Criterion { return Eq(FieldParentID, id) }
