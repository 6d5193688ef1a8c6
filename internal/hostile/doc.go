// Package hostile holds no code: its tests run the real lab command on
// every broken or hostile input under testdata/hostile and hold it to its
// promise (a located diagnostic, a non-zero exit, no panic, no state
// written), and check lab's security promises through the binary.
package hostile
