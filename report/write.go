package report

import (
	"bufio"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes the JSON report to path through a temporary file in
// the same directory and a rename, so a reader (or a crash, or a full disk)
// never leaves a half-written report where the complete one should be.
func WriteFileAtomic(path string, r *Report) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if err := WriteJSON(w, r); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
