using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace PaliGemma2.DocPipeline.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class DocumentReasonCode : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "reason_code",
                table: "documents",
                type: "character varying(48)",
                maxLength: 48,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "reason_code",
                table: "documents");
        }
    }
}
