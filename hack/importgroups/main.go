// Command importgroups checks that every Go file given groups its imports
// the way the house style asks: the standard library, then other modules,
// then this module (github.com/kargohq/kargo), each group once, separated
// by blank lines. goimports sorts inside groups but leaves an import in the
// wrong group where it is; `make lint` runs this after it. Generated files
// are skipped. With -w it regroups the files instead of reporting them.
//
//	go run ./hack/importgroups [-w] $(git ls-files '*.go')
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strconv"
	"strings"
)

const local = "github.com/kargohq/kargo"

// class orders the groups.
type class int

const (
	std class = iota
	other
	own
)

var names = [...]string{std: "the standard library", other: "other modules", own: "this module"}

func classOf(path string) class {
	switch first, _, _ := strings.Cut(path, "/"); {
	case path == local || strings.HasPrefix(path, local+"/"):
		return own
	case strings.Contains(first, "."):
		return other
	default:
		return std
	}
}

func main() {
	write := flag.Bool("w", false, "regroup the imports of the files that need it")
	flag.Parse()
	bad := 0
	for _, file := range flag.Args() {
		problems, err := check(file)
		if err == nil && len(problems) > 0 && *write {
			err = regroup(file)
			problems = nil
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, p := range problems {
			fmt.Println(p)
			bad++
		}
	}
	if bad > 0 {
		fmt.Printf("%d import grouping problems: group imports as the standard library, other modules, then %s, separated by blank lines\n", bad, local)
		os.Exit(1)
	}
}

// check returns a line per misplaced import of file.
func check(file string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return nil, err
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	var problems []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.IMPORT || len(gen.Specs) < 2 {
			continue
		}
		seen := map[class]bool{}
		groupClass, prevLine := class(-1), 0
		for i, spec := range gen.Specs {
			is := spec.(*ast.ImportSpec)
			path, _ := strconv.Unquote(is.Path.Value)
			c := classOf(path)
			pos := fset.Position(is.Pos())
			if is.Doc != nil {
				pos = fset.Position(is.Doc.Pos())
			}
			newGroup := i == 0 || pos.Line > prevLine+1
			prevLine = fset.Position(is.End()).Line
			switch {
			case newGroup && seen[c]:
				problems = append(problems, fmt.Sprintf("%s: %q starts a second group of %s", pos, path, names[c]))
			case newGroup && c < groupClass:
				problems = append(problems, fmt.Sprintf("%s: %q, of %s, comes after %s", pos, path, names[c], names[groupClass]))
			case !newGroup && c != groupClass:
				problems = append(problems, fmt.Sprintf("%s: %q, of %s, is in a group of %s", pos, path, names[c], names[groupClass]))
				continue
			}
			if newGroup {
				groupClass = c
				seen[c] = true
			}
		}
	}
	return problems, nil
}

// regroup rewrites file's import declarations in groups, keeping each
// import's comments with it.
func regroup(file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	last := 0
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.IMPORT || !gen.Lparen.IsValid() {
			continue
		}
		type entry struct{ path, text string }
		groups := map[class][]entry{}
		for _, spec := range gen.Specs {
			is := spec.(*ast.ImportSpec)
			start := is.Pos()
			if is.Doc != nil {
				start = is.Doc.Pos()
			}
			end := is.End()
			if is.Comment != nil {
				end = is.Comment.End()
			}
			path, _ := strconv.Unquote(is.Path.Value)
			text := string(src[fset.Position(start).Offset:fset.Position(end).Offset])
			groups[classOf(path)] = append(groups[classOf(path)], entry{path, text})
		}
		var block []string
		for c := std; c <= own; c++ {
			es := groups[c]
			if len(es) == 0 {
				continue
			}
			sort.SliceStable(es, func(i, j int) bool { return es[i].path < es[j].path })
			lines := make([]string, len(es))
			for i, e := range es {
				lines[i] = "\t" + e.text
			}
			block = append(block, strings.Join(lines, "\n"))
		}
		out.Write(src[last:fset.Position(gen.Lparen).Offset])
		out.WriteString("(\n" + strings.Join(block, "\n\n") + "\n")
		last = fset.Position(gen.Rparen).Offset
	}
	out.Write(src[last:])
	formatted, err := format.Source(out.Bytes())
	if err != nil {
		return fmt.Errorf("regroup %s: %w", file, err)
	}
	return os.WriteFile(file, formatted, 0o644)
}
