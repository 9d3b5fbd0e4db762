using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace PaliGemma2.DocPipeline.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class PacsAndDelivery : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "sop_instance_uid",
                table: "documents",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "intake_cursors",
                columns: table => new
                {
                    name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    position = table.Column<long>(type: "INTEGER", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_intake_cursors", x => x.name);
                });

            migrationBuilder.CreateTable(
                name: "report_deliveries",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    result_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    destination = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    sr_sop_instance_uid = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    sr_series_instance_uid = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    attempts = table.Column<int>(type: "INTEGER", nullable: false),
                    last_error = table.Column<string>(type: "TEXT", nullable: true),
                    sent_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_report_deliveries", x => x.id);
                    table.ForeignKey(
                        name: "fk_report_deliveries_results_result_id",
                        column: x => x.result_id,
                        principalTable: "results",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_documents_sop_instance_uid_task",
                table: "documents",
                columns: new[] { "sop_instance_uid", "task" },
                unique: true,
                filter: "sop_instance_uid IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_report_deliveries_result_id_destination",
                table: "report_deliveries",
                columns: new[] { "result_id", "destination" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_report_deliveries_status",
                table: "report_deliveries",
                column: "status");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "intake_cursors");

            migrationBuilder.DropTable(
                name: "report_deliveries");

            migrationBuilder.DropIndex(
                name: "ix_documents_sop_instance_uid_task",
                table: "documents");

            migrationBuilder.DropColumn(
                name: "sop_instance_uid",
                table: "documents");
        }
    }
}
