// Command nomap is a broken app for tests: it exports Reduce but no Map,
// so loading it must fail with a message that names Map.
package main

import "strconv"

func Reduce(key string, values []string) string {
	return strconv.Itoa(len(values))
}
