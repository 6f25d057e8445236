package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, errSeqScan):
		fmt.Fprintln(os.Stderr, "searchplan:", err)
		os.Exit(3)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "searchplan:", err)
		os.Exit(1)
	}
}

var errSeqScan = errors.New("sequential scan of a large table in a plan")

// query is one benchmark query: a name and a URL path with query.
type query struct{ name, path string }

func run(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("searchplan", flag.ContinueOnError)
	dbURL := fs.String("database-url", "", "Postgres URL of the telefhir database")
	queriesFile := fs.String("queries", "", "queries file: tab-separated name, clients, p50 goal, p99 goal, path (# comments)")
	idsFile := fs.String("ids", "", "Patient ids, one a line; the first replaces {patient}")
	baseURL := fs.String("base-url", "http://127.0.0.1", "the server's base URL (absolute references under it are local)")
	defaultCount := fs.Int("default-count", 50, "page size without _count, as the server's --default-count")
	maxCount := fs.Int("max-count", 1000, "largest _count, as the server's --max-count")
	timeout := fs.Duration("timeout", 5*time.Minute, "limit on the whole run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" || *queriesFile == "" {
		return errors.New("-database-url and -queries are required")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	queries, err := readQueries(*queriesFile)
	if err != nil {
		return err
	}
	patient := ""
	if *idsFile != "" {
		b, err := os.ReadFile(*idsFile)
		if err != nil {
			return err
		}
		patient, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
		patient = strings.TrimSpace(patient)
	}
	reg, err := search.NewRegistry(search.Options{BaseURL: *baseURL})
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var results []result
	for _, q := range queries {
		path := q.path
		if strings.Contains(path, "{patient}") {
			if patient == "" {
				return fmt.Errorf("%s uses {patient}: give -ids", q.name)
			}
			path = strings.ReplaceAll(path, "{patient}", patient)
		}
		r := result{query: q, path: path}
		sq, err := parse(reg, path, *defaultCount, *maxCount)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		db := &explainDB{conn: conn}
		start := time.Now()
		page, err := sqlq.Search(ctx, sqlq.Postgres, db, sq)
		if err != nil {
			return fmt.Errorf("%s: search: %w", q.name, err)
		}
		r.elapsed = time.Since(start)
		r.statements = db.statements
		for _, m := range page.Matches {
			if m.Included {
				r.included++
			} else {
				r.matches++
			}
		}
		r.total = page.Total
		results = append(results, r)
	}
	return report(w, results)
}

// readQueries reads the benchmark's queries file, each name once.
func readQueries(name string) ([]query, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []query
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("%s:%d: want 5 tab-separated fields, got %d", name, i+1, len(f))
		}
		if !seen[f[0]] {
			seen[f[0]] = true
			out = append(out, query{name: f[0], path: f[4]})
		}
	}
	return out, nil
}

// parse turns a search path into a Query the way the server does,
// _summary=count included (no entries, an accurate total).
func parse(reg *search.Registry, path string, defaultCount, maxCount int) (search.Query, error) {
	u, err := url.Parse(path)
	if err != nil {
		return search.Query{}, err
	}
	typ := strings.Trim(u.Path, "/")
	params := u.Query()
	if params.Get("_summary") == "count" {
		params.Set("_count", "0")
		params.Set("_total", "accurate")
	}
	q, issues, err := reg.Parse(typ, params, search.ParseOptions{Strict: true, DefaultCount: defaultCount, MaxCount: maxCount})
	if err != nil {
		return search.Query{}, err
	}
	if len(issues) > 0 {
		return search.Query{}, fmt.Errorf("%d issues parsing %s: %+v", len(issues), path, issues)
	}
	return q, nil
}

// statement is one statement a search ran, with its two plans.
type statement struct {
	kind     string // page, count, include, ...
	sql      string
	analyzed string // EXPLAIN (ANALYZE, BUFFERS) with the arguments
	generic  string // the same of EXECUTE under force_generic_plan
	// execMS and genericMS are the execution times the two report.
	execMS, genericMS float64
}

// explainDB is the sqlq.DB of a search whose statements are explained
// before they run.
type explainDB struct {
	conn       *pgx.Conn
	statements []statement
}

func (db *explainDB) Query(ctx context.Context, sql string, args []any, row func(scan func(...any) error) error) error {
	st := statement{kind: kindOf(sql), sql: sql}
	var err error
	if st.analyzed, err = db.explain(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args); err != nil {
		return fmt.Errorf("explain analyze: %w", err)
	}
	if st.generic, err = db.explainGeneric(ctx, sql, args); err != nil {
		return fmt.Errorf("explain generic: %w", err)
	}
	st.execMS, st.genericMS = execMS(st.analyzed), execMS(st.generic)
	db.statements = append(db.statements, st)

	rows, err := db.conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Estimate implements sqlq.Estimator as the Postgres store does, for
// searches with _total=estimate.
func (db *explainDB) Estimate(ctx context.Context, sql string, args []any) (int64, error) {
	var plan []byte
	if err := db.conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
		return 0, err
	}
	var p []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &p); err != nil || len(p) == 0 {
		return 0, fmt.Errorf("reading the plan estimate: %v", err)
	}
	return int64(p[0].Plan.Rows), nil
}

func (db *explainDB) explain(ctx context.Context, sql string, args []any) (string, error) {
	rows, err := db.conn.Query(ctx, sql, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// explainGeneric prepares sql and explains (ANALYZE, BUFFERS) its
// execution with args under force_generic_plan: the plan a cached
// prepared statement may use for any arguments.
func (db *explainDB) explainGeneric(ctx context.Context, sql string, args []any) (plan string, err error) {
	if _, err := db.conn.Exec(ctx, "PREPARE searchplan_generic AS "+sql); err != nil {
		return "", err
	}
	defer func() {
		_, derr := db.conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE searchplan_generic; RESET plan_cache_mode")
		err = errors.Join(err, derr)
	}()
	if _, err := db.conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		return "", err
	}
	ph := make([]string, len(args))
	for i := range args {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	// EXECUTE takes no bind parameters: the simple protocol has pgx
	// write the arguments into the statement as literals.
	return db.explain(ctx, "EXPLAIN (ANALYZE, BUFFERS) EXECUTE searchplan_generic("+strings.Join(ph, ", ")+")", append([]any{pgx.QueryExecModeSimpleProtocol}, args...))
}

// execMS is the execution time an EXPLAIN ANALYZE reports.
func execMS(plan string) float64 {
	m := execTime.FindStringSubmatch(plan)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

var (
	execTime = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)
	seqScan  = regexp.MustCompile(`Seq Scan on (\w+)`)
)

// large says whether a table grows with the data: a sequential scan of it
// is a finding.
func large(table string) bool {
	return table == "resource" || table == "resource_version" || strings.HasPrefix(table, "idx_")
}

// kindOf names a statement of sqlq by its shape.
func kindOf(sql string) string {
	switch {
	case strings.HasPrefix(sql, "SELECT count(*)"):
		return "count"
	case strings.Contains(sql, "(x.target_id, x.target_type) IN"):
		return "revinclude"
	case strings.Contains(sql, "x.target_id = r.res_id"):
		return "include"
	case strings.HasPrefix(sql, "SELECT p.rid"):
		return "page"
	}
	return "statement"
}

// seqScans lists the large tables plan scans sequentially.
func seqScans(plan string) []string {
	var out []string
	for _, m := range seqScan.FindAllStringSubmatch(plan, -1) {
		if large(m[1]) && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

type result struct {
	query
	path              string
	statements        []statement
	elapsed           time.Duration
	matches, included int
	total             int
}

func report(w io.Writer, results []result) error {
	found := 0
	fmt.Fprintln(w, "| query | statements | execution, custom / generic plan | matches + included | seq scans of large tables, custom / generic plan |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|")
	for _, r := range results {
		kinds := make([]string, len(r.statements))
		var exec, genericExec float64
		var custom, generic []string
		for i, s := range r.statements {
			kinds[i] = s.kind
			exec += s.execMS
			genericExec += s.genericMS
			custom = append(custom, seqScans(s.analyzed)...)
			generic = append(generic, seqScans(s.generic)...)
		}
		scans := "none"
		if len(custom)+len(generic) > 0 {
			found++
			scans = fmt.Sprintf("**%s / %s**", orNone(custom), orNone(generic))
		}
		got := fmt.Sprintf("%d + %d", r.matches, r.included)
		if r.total >= 0 {
			got += fmt.Sprintf(" (total %d)", r.total)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f / %.1f ms | %s | %s |\n", r.name, strings.Join(kinds, ", "), exec, genericExec, got, scans)
	}
	for _, r := range results {
		fmt.Fprintf(w, "\n### %s\n\n`GET %s`\n", r.name, r.path)
		for i, s := range r.statements {
			fmt.Fprintf(w, "\nStatement %d (%s), EXPLAIN (ANALYZE, BUFFERS):\n\n```\n%s\n```\n", i+1, s.kind, s.analyzed)
			fmt.Fprintf(w, "\nThe same statement prepared, generic plan (plan_cache_mode = force_generic_plan), EXPLAIN (ANALYZE, BUFFERS) EXECUTE:\n\n```\n%s\n```\n", s.generic)
		}
	}
	if found > 0 {
		return fmt.Errorf("%w: %d of %d queries", errSeqScan, found, len(results))
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ", ")
}
