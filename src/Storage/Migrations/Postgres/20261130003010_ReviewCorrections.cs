using System;
using Microsoft.EntityFrameworkCore.Migrations;
using PaliGemma2.DocPipeline.Storage.Migrations;

#nullable disable

namespace PaliGemma2.DocPipeline.Storage.Migrations.Postgres
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
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    result_id = table.Column<Guid>(type: "uuid", nullable: false),
                    task = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    payload = table.Column<string>(type: "jsonb", nullable: false),
                    edited = table.Column<bool>(type: "boolean", nullable: false),
                    reviewed_by = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    reviewed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
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

            // Reviewed fields on the task views (the reader role sees them through its grants on the views).
            migrationBuilder.Sql(ReviewCorrectionsViews.Common("CREATE OR REPLACE VIEW", (c, k) => $"{c}->>'{k}'", (c, k) => $"({c}->>'{k}')::integer",
                "d.metadata->>'studyInstanceUid'", "r.payload->'cells'") + ReviewCorrectionsViews.PostgresMolecules);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Back to the TaskViews definitions: a view cannot lose columns in place.
            migrationBuilder.Sql(ReviewCorrectionsViews.Drop);
            migrationBuilder.Sql(TaskViews.CommonViews("d.metadata->>'studyInstanceUid'", "r.payload->'cells'")
                + ReviewCorrectionsViews.PostgresMoleculesBefore
                + "GRANT SELECT ON table_results, molecule_results, score_results, report_results TO docpipe_reader;");
            migrationBuilder.DropTable(
                name: "result_corrections");
        }
    }
}
