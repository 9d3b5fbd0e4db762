using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Storage.Blobs;

namespace PaliGemma2.DocPipeline.Storage;

/// <summary>Registers the database and blob store chosen by configuration.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="DocPipelineDbContext"/> (PostgreSQL from connection string <c>Postgres</c>, or
    /// SQLite from <c>Sqlite</c>) and the file-system <see cref="IBlobStore"/>.
    /// </summary>
    public static IServiceCollection AddDocPipelineStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section);

        if (options.Provider == StorageProvider.Postgres)
        {
            var cs = configuration.GetConnectionString("Postgres")
                ?? throw new InvalidOperationException("ConnectionStrings:Postgres is required when Storage:Provider is Postgres.");
            services.AddDbContext<PostgresDocPipelineDbContext>(o => ConfigurePostgres(o, cs));
            services.AddScoped<DocPipelineDbContext>(sp => sp.GetRequiredService<PostgresDocPipelineDbContext>());
        }
        else
        {
            var cs = configuration.GetConnectionString("Sqlite") ?? "Data Source=.docpipe/docpipe.db";
            services.AddDbContext<SqliteDocPipelineDbContext>(o => ConfigureSqlite(o, cs));
            services.AddScoped<DocPipelineDbContext>(sp => sp.GetRequiredService<SqliteDocPipelineDbContext>());
        }

        services.AddSingleton<IBlobStore>(new FileSystemBlobStore(options.BlobRoot));
        return services;
    }

    /// <summary>
    /// PostgreSQL options as every process uses them. Transient errors (a restarted server leaves dead pooled
    /// connections behind; a failover) are retried for up to about half a minute instead of failing the request.
    /// </summary>
    public static DbContextOptionsBuilder ConfigurePostgres(DbContextOptionsBuilder builder, string connectionString) =>
        builder.UseNpgsql(connectionString, o => o.EnableRetryOnFailure(6, TimeSpan.FromSeconds(5), null)).UseSnakeCaseNamingConvention();

    /// <summary>SQLite options as every process uses them.</summary>
    public static DbContextOptionsBuilder ConfigureSqlite(DbContextOptionsBuilder builder, string connectionString)
    {
        var dataSource = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(dataSource));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        return builder.UseSqlite(connectionString).UseSnakeCaseNamingConvention();
    }
}
