using Microsoft.EntityFrameworkCore;

namespace PaliGemma2.DocPipeline.Storage.Tests;

/// <summary>
/// The EF model must equal each provider's migrations snapshot: a model change without
/// <c>dotnet ef migrations add</c> for both providers fails here. No database is contacted.
/// </summary>
public sealed class ModelSnapshotTests
{
    [Fact]
    public void Postgres_model_has_no_changes_missing_from_its_migrations()
    {
        using var db = Contexts.Postgres("Host=localhost;Database=unused");
        Assert.False(db.Database.HasPendingModelChanges(), "run: dotnet ef migrations add <Name> --context PostgresDocPipelineDbContext --output-dir Migrations/Postgres");
    }

    [Fact]
    public void Sqlite_model_has_no_changes_missing_from_its_migrations()
    {
        using var db = Contexts.Sqlite($"Data Source={Path.Combine(Path.GetTempPath(), "unused-docpipe.db")}");
        Assert.False(db.Database.HasPendingModelChanges(), "run: dotnet ef migrations add <Name> --context SqliteDocPipelineDbContext --output-dir Migrations/Sqlite");
    }

    [Fact]
    public void Each_provider_has_its_own_migrations()
    {
        using var pg = Contexts.Postgres("Host=localhost;Database=unused");
        using var sqlite = Contexts.Sqlite($"Data Source={Path.Combine(Path.GetTempPath(), "unused-docpipe.db")}");
        Assert.NotEmpty(pg.Database.GetMigrations());
        Assert.NotEmpty(sqlite.Database.GetMigrations());
        Assert.All(pg.Database.GetMigrations(), id => Assert.DoesNotContain(id, sqlite.Database.GetMigrations()));
    }
}
