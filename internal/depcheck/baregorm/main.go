package main

import (
	"fmt"
	"os"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

func main() {
	dsn := os.Getenv("IAM_TEST_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "baregorm: set IAM_TEST_DSN to a PostgreSQL DSN")
		os.Exit(1)
	}
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "baregorm:", err)
		os.Exit(1)
	}
	var n int
	if err := db.Raw("SELECT 1").Scan(&n).Error; err != nil {
		fmt.Fprintln(os.Stderr, "baregorm:", err)
		os.Exit(1)
	}
	fmt.Println(n)
}
