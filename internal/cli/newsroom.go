package cli

import "context"

// redraft drafts again the still-drafted fields of the stories named,
// after an editor moved articles between them.
func (a *app) redraft(ctx context.Context, ids ...string) error {
	return nil
}
