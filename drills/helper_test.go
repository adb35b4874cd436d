package drills

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"

	_ "github.com/mattn/go-sqlite3"
)

// helper runs the test binary as a helper process for a drill (DRILL_HELPER
// names the part) and returns its exit status.
//
//	lock DB: hold a write transaction on the database at DB, print
//	"locked" once it holds it, and keep it until stdin closes.
func helper(name string, args []string) int {
	switch name {
	case "lock":
		path := os.Getenv("DRILL_DB")
		db, err := sql.Open("sqlite3", "file:"+path+"?_txlock=immediate")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer db.Close()
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lock:", err)
			return 1
		}
		if _, err := tx.Exec(`UPDATE subscribers SET updated_at = updated_at WHERE id = (SELECT MIN(id) FROM subscribers)`); err != nil {
			fmt.Fprintln(os.Stderr, "lock:", err)
			return 1
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		tx.Rollback()
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown DRILL_HELPER", name)
	return 2
}
