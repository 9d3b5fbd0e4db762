using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace PaliGemma2.DocPipeline.Storage;

// Used only by `dotnet ef migrations add`; no database is contacted.
internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresDocPipelineDbContext>
{
    public PostgresDocPipelineDbContext CreateDbContext(string[] args) =>
        new((DbContextOptions<PostgresDocPipelineDbContext>)StorageServiceCollectionExtensions
            .ConfigurePostgres(new DbContextOptionsBuilder<PostgresDocPipelineDbContext>(), "Host=localhost").Options);
}

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteDocPipelineDbContext>
{
    public SqliteDocPipelineDbContext CreateDbContext(string[] args) =>
        new((DbContextOptions<SqliteDocPipelineDbContext>)StorageServiceCollectionExtensions
            .ConfigureSqlite(new DbContextOptionsBuilder<SqliteDocPipelineDbContext>(), "Data Source=design.db").Options);
}
