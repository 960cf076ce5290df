// Command openapigen prints the API server's /openapi.json, indented, for
// generating the web UI's API types (make ui-api): the document a server
// serves, with "generated" in place of the server's version so that the
// output changes only when the API does.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/kargohq/kargo/internal/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "openapigen: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	raw, err := server.OpenAPIDocument("generated")
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return fmt.Errorf("indent the OpenAPI document: %w", err)
	}
	out.WriteByte('\n')
	_, err = os.Stdout.Write(out.Bytes())
	return err
}
