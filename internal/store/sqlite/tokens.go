package sqlite

import (
	"database/sql"
	"errors"
)

func wrapRowsErr(op string, err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dbErr(op, err)
	}
	return nil
}
