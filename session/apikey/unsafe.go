package apikey

import "unsafe"

// unsafeBytes views s as a byte slice without copying. The slice must not
// be written to or kept.
func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
