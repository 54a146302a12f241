package clinical

import "time"

// LogSeqs returns the last log sequences Run processed and committed.
func (s *Service) LogSeqs() (processed, committed uint64) {
	return s.processed.Load(), s.committed.Load()
}

// SetRetryBase sets Run's first pause after a failed batch.
func (s *Service) SetRetryBase(d time.Duration) { s.retryBase = d }
