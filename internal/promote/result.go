package promote

// Landing is what a Stage's Git write branches hold of one Promotion.
type Landing struct {
	// Landed names the gitRepoUpdates ("<repoURL> <branch> @ <commit>")
	// whose write branch holds the Promotion's commit as the newest made
	// for the Stage; Missing names the others ("<repoURL> <branch>").
	Landed, Missing []string
}
