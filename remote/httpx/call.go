package httpx

import "context"

// Call names the API call an HTTP request belongs to. Client.Do puts it in
// the context of every request it sends, so a transport below the client
// can log or count requests per operation and see which attempt it is.
type Call struct {
	// Op is the operation name given to Do ("bim360.GetFolderContents").
	Op string
	// Attempt counts the tries of this call, starting at 1.
	Attempt int
}

type callKey struct{}

// WithCall returns ctx carrying c.
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom returns the Call in ctx, if any.
func CallFrom(ctx context.Context) (Call, bool) {
	c, ok := ctx.Value(callKey{}).(Call)
	return c, ok
}
