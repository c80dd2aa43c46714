package trail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// PublicKey is the trail's verifier key as a reader of the trail finds it.
type PublicKey struct {
	Verifier note.Verifier // nil: no key (the chain alone can be checked)
	Key      string        // the key's text
	File     string        // where it was read, or looked for
}

// ReadPublicKey reads the verifier key from file, or from the state
// directory's trail.pub when file is "". A file named must be there; the
// state directory's may be missing, which leaves Verifier nil.
func ReadPublicKey(stateDir, file string) (PublicKey, error) {
	k := PublicKey{File: file}
	if file == "" {
		k.File = filepath.Join(stateDir, pubFile)
	}
	data, err := os.ReadFile(k.File)
	if file == "" && errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return k, fmt.Errorf("read the trail's public key: %w", err)
	}
	k.Key = strings.TrimSpace(string(data))
	if k.Verifier, err = note.NewVerifier(k.Key); err != nil {
		return k, fmt.Errorf("%s: %w", k.File, err)
	}
	return k, nil
}
