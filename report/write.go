package report

import (
	"bufio"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes the JSON report to path through a temporary file in
// the same directory and a rename, so a reader (or a crash, or a full disk)
// never leaves a half-written report where the complete one should be.
//
// A path that exists and is not a regular file (a FIFO, /dev/stdout, a
// device) is written in place: renaming over it would replace the device
// or the pipe its reader waits on.
func WriteFileAtomic(path string, r *Report) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		if err := WriteJSON(w, r); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	// A report is for sharing: the usual file mode, not CreateTemp's 0600.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
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
