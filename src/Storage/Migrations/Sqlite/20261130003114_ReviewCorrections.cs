using System;
using Microsoft.EntityFrameworkCore.Migrations;
using PaliGemma2.DocPipeline.Storage.Migrations;

#nullable disable

namespace PaliGemma2.DocPipeline.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ReviewCorrections : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "result_corrections",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    result_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    task = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    payload = table.Column<string>(type: "TEXT", nullable: false),
                    edited = table.Column<bool>(type: "INTEGER", nullable: false),
                    reviewed_by = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    reviewed_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_result_corrections", x => x.id);
                    table.ForeignKey(
                        name: "fk_result_corrections_results_result_id",
                        column: x => x.result_id,
                        principalTable: "results",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_result_corrections_result_id_reviewed_at",
                table: "result_corrections",
                columns: new[] { "result_id", "reviewed_at" });

            migrationBuilder.CreateIndex(
                name: "ix_result_corrections_task",
                table: "result_corrections",
                column: "task");

            // Reviewed fields on the task views; SQLite cannot replace a view, so drop and create.
            migrationBuilder.Sql(ReviewCorrectionsViews.Drop + ReviewCorrectionsViews.Common("CREATE VIEW", (c, k) => $"json_extract({c}, '$.{k}')",
                (c, k) => $"CAST(json_extract({c}, '$.{k}') AS INTEGER)", "json_extract(d.metadata, '$.studyInstanceUid')", "json_extract(r.payload, '$.cells')")
                + ReviewCorrectionsViews.SqliteMolecules);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(ReviewCorrectionsViews.Drop);
            migrationBuilder.Sql(TaskViews.CommonViews("json_extract(d.metadata, '$.studyInstanceUid')", "json_extract(r.payload, '$.cells')")
                + ReviewCorrectionsViews.SqliteMoleculesBefore);
            migrationBuilder.DropTable(
                name: "result_corrections");
        }
    }
}
