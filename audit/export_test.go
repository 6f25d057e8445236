package audit

// SetPurgeChunk sets how many links one purge transaction deletes and
// returns a function that restores it.
func SetPurgeChunk(n int64) (restore func()) {
	old := purgeChunk
	purgeChunk = n
	return func() { purgeChunk = old }
}
