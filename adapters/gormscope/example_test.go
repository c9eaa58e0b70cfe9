package gormscope_test

import (
	"errors"
	"fmt"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/adapters/gormscope"
)

func ExampleScope() {
	db, err := gorm.Open(sqlite.Open(":memory:"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	sqlDB, err := db.DB()
	if err != nil {
		fmt.Println("db:", err)
		return
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1) // one connection, one in-memory database

	type Permit struct {
		ID     int64
		Dept   string
		Status string
	}
	if err := db.AutoMigrate(&Permit{}); err != nil {
		fmt.Println("migrate:", err)
		return
	}
	db.Create([]Permit{{1, "roads", "open"}, {2, "parks", "open"}, {3, "roads", "closed"}, {4, "water", "open"}})

	rule, err := abac.ParseRule("dept in subject.departments and status != 'closed'")
	if err != nil {
		fmt.Println("parse:", err)
		return
	}
	filter := abac.FilterFor(abac.Attributes{"departments": {"roads", "parks"}}, rule)
	// The allow-list: logical field -> column. Nothing else becomes SQL.
	permitColumns := map[string]string{"dept": "dept", "status": "status"}

	var permits []Permit
	err = db.Where("id > ?", 0).Scopes(gormscope.Scope(filter, permitColumns)).Order("id").Find(&permits).Error
	if err != nil {
		fmt.Println("find:", err)
		return
	}
	for _, p := range permits {
		fmt.Println(p.ID, p.Dept, p.Status)
	}

	// A field with no column fails the query instead of widening it.
	err = db.Scopes(gormscope.Scope(filter, map[string]string{"dept": "dept"})).Find(&permits).Error
	fmt.Println(errors.Is(err, abac.ErrUnknownField))
	// Output:
	// 1 roads open
	// 2 parks open
	// true
}
