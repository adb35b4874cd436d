package cli

import (
	"context"
	"fmt"

	"bothsides/cluster"
	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/newsroom"
)

// newsroom returns the newsroom on the open database, configured by the
// global settings: one per invocation, so that serve's ingests and the
// console's regroupings take turns.
func (a *app) newsroom(ctx context.Context) (*newsroom.Newsroom, error) {
	if a.room != nil {
		return a.room, nil
	}
	db, err := a.openDB(ctx)
	if err != nil {
		return nil, err
	}
	auto, err := newsroom.ParseAutoPublish(a.cfg.AutoPublish)
	if err != nil {
		return nil, fmt.Errorf("%w: --auto-publish: %v", errUsage, err)
	}
	cc := cluster.DefaultConfig()
	if a.cfg.ClusterThreshold <= 0 || a.cfg.ClusterThreshold > 1 {
		return nil, fmt.Errorf("%w: --cluster-threshold %v: want a number above 0 and at most 1", errUsage, a.cfg.ClusterThreshold)
	}
	if a.cfg.ClusterWindow <= 0 {
		return nil, fmt.Errorf("%w: --cluster-window %v: want a positive duration such as 48h", errUsage, a.cfg.ClusterWindow)
	}
	cc.Threshold, cc.Window = a.cfg.ClusterThreshold, a.cfg.ClusterWindow
	a.room = newsroom.New(newsroom.Config{Cluster: cc, AutoPublish: auto, Now: a.now, Logger: a.log},
		db, digest.NewStore(db), feeds.NewStore(db))
	return a.room, nil
}

// redraft drafts again the still-drafted fields of the stories named,
// after an editor moved articles between them.
func (a *app) redraft(ctx context.Context, ids ...string) error {
	n, err := a.newsroom(ctx)
	if err != nil {
		return err
	}
	return n.Redraft(ctx, ids...)
}
