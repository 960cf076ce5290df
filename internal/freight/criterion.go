package freight

import (
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// criterionCostLimit bounds the work one evaluation of a creation criterion
// may do: it runs on every poll of its Warehouse.
const criterionCostLimit = 1_000_000

var criterionEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("commits", cel.ListType(cel.MapType(cel.StringType, cel.StringType))),
		cel.Variable("images", cel.ListType(cel.MapType(cel.StringType, cel.StringType))),
		cel.Variable("charts", cel.ListType(cel.MapType(cel.StringType, cel.StringType))),
	)
})

// Criterion is a Warehouse's freightCreationCriteria expression, compiled.
type Criterion struct {
	expression string
	program    cel.Program
}

// CompileCriterion compiles a creation criterion, which must be a boolean
// CEL expression over commits, images and charts (see
// kargoapi.FreightCreationCriteria).
func CompileCriterion(expression string) (*Criterion, error) {
	env, err := criterionEnv()
	if err != nil {
		return nil, fmt.Errorf("build the criterion environment: %w", err)
	}
	ast, iss := env.Compile(expression)
	if iss.Err() != nil {
		return nil, fmt.Errorf("freightCreationCriteria.expression does not compile: %w", iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("freightCreationCriteria.expression must be true or false, not %s", ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(criterionCostLimit))
	if err != nil {
		return nil, fmt.Errorf("freightCreationCriteria.expression: %w", err)
	}
	return &Criterion{expression: expression, program: prg}, nil
}

// Allows says whether the candidate Freight made of these artifacts meets
// the criterion.
func (c *Criterion) Allows(commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) (bool, error) {
	vars := map[string]any{"commits": []map[string]string{}, "images": []map[string]string{}, "charts": []map[string]string{}}
	var cs, is, hs []map[string]string
	for _, x := range commits {
		cs = append(cs, map[string]string{"repoURL": x.RepoURL, "id": x.ID, "tag": x.Tag, "branch": x.Branch, "message": x.Message, "author": x.Author})
	}
	for _, x := range images {
		is = append(is, map[string]string{"repoURL": x.RepoURL, "tag": x.Tag, "digest": x.Digest})
	}
	for _, x := range charts {
		hs = append(hs, map[string]string{"repoURL": x.RepoURL, "name": x.Name, "version": x.Version})
	}
	for k, v := range map[string][]map[string]string{"commits": cs, "images": is, "charts": hs} {
		if v != nil {
			vars[k] = v
		}
	}
	out, _, err := c.program.Eval(vars)
	if err != nil {
		return false, fmt.Errorf("evaluate freightCreationCriteria.expression %q: %w", c.expression, err)
	}
	ok, isBool := out.Value().(bool)
	if !isBool {
		return false, fmt.Errorf("freightCreationCriteria.expression %q gave %v, not true or false", c.expression, out.Value())
	}
	return ok, nil
}
