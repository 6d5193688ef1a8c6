// Package e2e holds no code: its tests run the built lab command end to
// end. TestHostileInput runs it on every broken or hostile input under
// testdata/hostile and holds it to its promise (a located diagnostic, a
// non-zero exit, no panic, no state written); the security tests check
// that sensitive values are never shown and that no shell runs user
// input.
package e2e
