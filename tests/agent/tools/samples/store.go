package store

import "sync"

// Store is a concurrency-safe key-value map.
type Store struct {
	mu   sync.Mutex
	data map[string]string
}

type Getter interface {
	Get(key string) (string, bool)
}

type Key = string

func NewStore() *Store {
	return &Store{data: map[string]string{}}
}

func (s *Store) Get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	return v, ok
}

func (s Store) Len() int {
	return len(s.data)
}
