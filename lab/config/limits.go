package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyyaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"labs.dev/lab/lab/config/yamlguard"
)

// MaxNesting bounds how deep brackets, braces, parentheses and template
// interpolations may nest. HCL's parser recurses once per level, and a
// generated or hostile file with tens of thousands of levels overflows
// its stack (a crash no recover can catch); people write fewer than ten.
const MaxNesting = 100

type lexMode int

const (
	lexConfig lexMode = iota
	lexTemplate
	lexExpression
)

// checkNesting refuses source nested deeper than MaxNesting, naming the
// place it goes too deep. Lexing is linear and never recurses; lex errors
// are left to the parser, which words them better.
func checkNesting(src []byte, filename string, mode lexMode) hcl.Diagnostics {
	var toks hclsyntax.Tokens
	switch mode {
	case lexTemplate:
		toks, _ = hclsyntax.LexTemplate(src, filename, hcl.InitialPos)
	case lexExpression:
		toks, _ = hclsyntax.LexExpression(src, filename, hcl.InitialPos)
	default:
		toks, _ = hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	}
	depth := 0
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			depth++
			if depth > MaxNesting {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Nesting too deep",
					Detail: fmt.Sprintf("Brackets, braces, parentheses and ${...} nest more than %d levels deep here. "+
						"Flatten the structure, or keep generated data in a file read with file() and jsondecode()/yamldecode().", MaxNesting),
					Subject: t.Range.Ptr(),
				}}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// yamlDecodeFunc is go-cty-yaml's yamldecode, refusing a YAML bomb before
// it expands: its type check alone expands every alias.
var yamlDecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "src", Type: cty.String}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if args[0].IsKnown() && !args[0].IsNull() {
			if err := yamlguard.Check([]byte(args[0].AsString()), yamlguard.MaxNodes); err != nil {
				return cty.NilType, function.NewArgError(0, err)
			}
		}
		return ctyyaml.YAMLDecodeFunc.ReturnTypeForValues(args)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return ctyyaml.YAMLDecodeFunc.Call(args)
	},
})
