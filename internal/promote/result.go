package promote

// Outcome is what applying a Stage's promotion mechanisms did.
type Outcome struct {
	// Summary has one line per change, such as "set image nginx to 1.25.0
	// in stages/test (stages/test @ 3f2a1b0)".
	Summary []string
}

// Landing is what a Stage's Git write branches hold of one Promotion.
type Landing struct {
	// Landed names the gitRepoUpdates ("<repoURL> <branch> @ <commit>")
	// whose write branch holds the Promotion's commit as the newest made
	// for the Stage; Missing names the others ("<repoURL> <branch>").
	Landed, Missing []string
}
